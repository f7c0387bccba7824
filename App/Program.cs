using Ensemble.App.Hosting;

// The whole host is described in Hosting/EnsembleApp.cs; tests build the same host with their own configuration.
return await EnsembleApp.RunAsync(args);
