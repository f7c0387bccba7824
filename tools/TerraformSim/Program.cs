using Ensemble.TerraformSim;

// A stand-in for the terraform CLI on a tiny language subset, for tests (see docs and DESIGN.md).
return new Commands(Console.Out, Console.Error).Run(args);
