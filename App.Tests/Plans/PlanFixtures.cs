using System.Runtime.CompilerServices;
using System.Text;
using Ensemble.Jobs.Plans;

namespace Ensemble.Tests.Plans;

/// <summary>The real plans under Fixtures/plans (copied from shared/fixtures/plans) and generated large plans.</summary>
internal static class PlanFixtures
{
    public static readonly string[] Invalid =
    [
        "borchero-1.13-terragrunt-concatenated.json",
        "checkov-1.0-utf16le-bom.json",
        "invalid-infracost-setup-terraform-wrapper.json",
        "invalid-tfjson-trailing-data.json",
    ];

    public static string Directory => Path.Combine(AppContext.BaseDirectory, "Fixtures", "plans");

    public static IEnumerable<string> ValidNames() =>
        System.IO.Directory.GetFiles(Directory, "*.json").Select(Path.GetFileName).OfType<string>()
            .Where(n => !Invalid.Contains(n)).Order(StringComparer.Ordinal);

    public static TheoryData<string> Valid()
    {
        var data = new TheoryData<string>();
        foreach (var name in ValidNames())
        {
            data.Add(name);
        }

        return data;
    }

    public static byte[] Bytes(string name) => File.ReadAllBytes(Path.Combine(Directory, name));

    public static PlanDocument Load(string name)
    {
        var result = PlanDocument.Parse(Bytes(name));
        Assert.True(result.IsSuccess, $"{name}: {result.Error}");
        return result.Plan!;
    }

    public static PlanDocument Load(byte[] json)
    {
        var result = PlanDocument.Parse(json);
        Assert.True(result.IsSuccess, result.Error);
        return result.Plan!;
    }

    public static string SourceDirectory([CallerFilePath] string path = "") => Path.GetDirectoryName(path)!;

    public const string SecretMarker = PlanGenerator.SecretMarker;

    /// <summary>
    /// A plan of <paramref name="count"/> resources; every third is replaced and every third destroyed when
    /// <paramref name="mixed"/>. Each carries a sensitive password and a sensitive value nested in a list, all
    /// containing <see cref="SecretMarker"/>.
    /// </summary>
    public static byte[] Generated(int count, bool mixed) => Generated(count, i => mixed ? i % 3 : 0);

    private static readonly Lazy<byte[]> TenThousandMixedBytes = new(() => Generated(10_000, mixed: true));
    private static readonly Lazy<byte[]> TenThousandCreatesBytes = new(() => Generated(10_000, mixed: false));

    /// <summary>Generating 10,000 resources takes a while on a shared machine: built once per test run.</summary>
    public static byte[] TenThousand(bool mixed) => mixed ? TenThousandMixedBytes.Value : TenThousandCreatesBytes.Value;

    /// <summary>A plan where <paramref name="kindOf"/> picks each resource's change: 0 create, 1 replace, 2 destroy.</summary>
    public static byte[] Generated(int count, Func<int, int> kindOf) => PlanGenerator.Generate(count, kindOf);

    public static string AddressOf(int i) => PlanGenerator.AddressOf(i);
}
