namespace Ensemble.Jobs.Terraform;

/// <summary>Configuration section <c>Terraform</c> (DESIGN.md). Binary may be <c>terraform</c>, <c>tofu</c> or the stand-in.</summary>
public sealed class TerraformOptions
{
    public const string Section = "Terraform";

    public string Binary { get; set; } = "terraform";

    /// <summary><c>sandbox</c>, <c>process</c>, <c>docker</c> or <c>kubernetes</c>; empty = sandbox where bwrap exists, else process.</summary>
    public string? Runner { get; set; }

    public string? Image { get; set; }

    public TimeSpan Timeout { get; set; } = TimeSpan.FromHours(1);

    /// <summary>
    /// Variables given to terraform on top of the minimal allowlist — the provider credentials an operator chooses to
    /// hand to plans (e.g. <c>Terraform:Environment:AWS_ROLE_ARN</c>). Their values are masked in every log and check run.
    /// Nothing else of Ensemble's own environment reaches terraform.
    /// </summary>
    public Dictionary<string, string> Environment { get; set; } = new(StringComparer.Ordinal);
}
