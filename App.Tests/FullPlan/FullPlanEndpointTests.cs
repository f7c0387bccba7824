using System.Net;
using Ensemble.App.FullPlan;
using Ensemble.Jobs.Artifacts;
using Ensemble.Jobs.Core;
using Ensemble.Jobs.Plans;
using Ensemble.Tests.Plans;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace Ensemble.Tests.FullPlan;

/// <summary>The full-plan endpoint in a small host of its own on a loopback port, with a file artifact store.</summary>
public sealed class FullPlanEndpointTests : IAsyncLifetime
{
    private static readonly RepoRef Repo = new(42, "octo-org", "infra");
    private const string Sha = "6dcb09b5b57875f334f61aebed695e2e4193db5e";

    private readonly string _root = Path.Combine(Path.GetTempPath(), "ensemble-fullplan-" + Guid.NewGuid().ToString("n")[..12]);
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 3, 1, 12, 0, 0, TimeSpan.Zero));
    private readonly HttpClient _http = new();
    private WebApplication _app = null!;
    private Uri _address = null!;

    // Through the interface jobs use, so the test also shows the registration that PlanJob relies on.
    private IFullPlanLinks Links => _app.Services.GetRequiredService<IFullPlanLinks>();
    private IArtifactStore Artifacts => _app.Services.GetRequiredService<IArtifactStore>();

    public async Task InitializeAsync()
    {
        var builder = WebApplication.CreateBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["GitHub:WebhookSecret"] = "It's a Secret to Everybody",
            ["Ensemble:PublicUrl"] = "https://ensemble.example.com/",
        });
        builder.Services.AddSingleton<TimeProvider>(_time);
        builder.Services.AddSingleton<IArtifactStore>(new FileArtifactStore(_root));
        builder.Services.AddFullPlanLinks(builder.Configuration);
        _app = builder.Build();
        _app.MapFullPlan();
        await _app.StartAsync();
        _address = new Uri(_app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
    }

    public async Task DisposeAsync()
    {
        _http.Dispose();
        await _app.DisposeAsync();
        if (Directory.Exists(_root))
        {
            Directory.Delete(_root, recursive: true);
        }
    }

    private async Task<string> StoreAsync(byte[] plan, string project = "envs/prod", string name = ArtifactKeys.PlanJson)
    {
        var key = ArtifactKeys.For(Repo, 7, project, Sha, name);
        await Artifacts.PutAsync(key, new MemoryStream(plan));
        return key;
    }

    /// <summary>Fetches a link minted for the public URL from this host instead.</summary>
    private Task<HttpResponseMessage> GetAsync(string link) => _http.GetAsync(new Uri(_address, new Uri(link).AbsolutePath));

    [Fact]
    public async Task Get_ValidLink_ServesTheWholePlanWithSensitiveValuesMasked()
    {
        var link = Links.UrlFor(await StoreAsync(PlanFixtures.Generated(2_000, mixed: true)))!;

        using var response = await GetAsync(link);
        var page = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/html; charset=utf-8", response.Content.Headers.ContentType!.ToString());
        Assert.StartsWith("https://ensemble.example.com/plans/", link, StringComparison.Ordinal);
        Assert.Contains("octo-org/infra #7 · project envs/prod · commit 6dcb09b", page, StringComparison.Ordinal);
        // Every resource's diff is there, down to the last one, which the check run text has no room for.
        Assert.Contains("web[&quot;01999&lt;b&gt;&quot;]", page, StringComparison.Ordinal);
        Assert.Equal(2_000, Occurrences(page, "<details>"));
        Assert.DoesNotContain("not shown", page, StringComparison.Ordinal);
        Assert.Contains("(sensitive)", page, StringComparison.Ordinal);
        Assert.DoesNotContain(PlanFixtures.SecretMarker, page, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Get_DestroyPlan_ShowsTheDestroyBannerAsTheCheckRunDoes()
    {
        // A deleted project's plan (plan -destroy): every resource it manages is deleted.
        var link = Links.UrlFor(await StoreAsync(PlanFixtures.Generated(40, _ => 2), project: "envs/old"))!;

        using var response = await GetAsync(link);
        var page = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("<h1>Destroy plan: 0 to add, 0 to change, 0 to replace, 40 to destroy", page, StringComparison.Ordinal);
        Assert.Contains("DESTROY PLAN: applying it destroys every resource that project <code>envs/old</code> manages.", page, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Get_PlanThatAlsoDestroys_NoDestroyBanner()
    {
        var link = Links.UrlFor(await StoreAsync(PlanFixtures.Generated(30, mixed: true)))!;

        using var response = await GetAsync(link);
        var page = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("<h1>Plan: 10 to add, 0 to change, 10 to replace, 10 to destroy", page, StringComparison.Ordinal);
        Assert.DoesNotContain("DESTROY PLAN", page, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Get_AnyAnswer_IsNeverCachedIndexedOrReferred()
    {
        var link = Links.UrlFor(await StoreAsync(PlanFixtures.Generated(3, mixed: false)))!;

        foreach (var path in new[] { link, "https://x/plans/forged" })
        {
            using var response = await GetAsync(path);
            Assert.Equal("no-store", response.Headers.CacheControl!.ToString());
            Assert.Equal("noindex, nofollow", Assert.Single(response.Headers.GetValues("X-Robots-Tag")));
            Assert.Equal("no-referrer", Assert.Single(response.Headers.GetValues("Referrer-Policy")));
            Assert.Equal("default-src 'none'; style-src 'unsafe-inline'", Assert.Single(response.Headers.GetValues("Content-Security-Policy")));
        }
    }

    [Fact]
    public async Task Get_TamperedLink_Forbidden()
    {
        var link = Links.UrlFor(await StoreAsync(PlanFixtures.Generated(3, mixed: false)))!;
        var tampered = link[..^5] + (link[^5] == 'A' ? 'B' : 'A') + link[^4..];

        using var response = await GetAsync(tampered);

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Contains("not valid", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Get_AfterTheLifetime_GoneAndSaysToOpenTheCheckRunAgain()
    {
        var link = Links.UrlFor(await StoreAsync(PlanFixtures.Generated(3, mixed: false)))!;
        _time.Advance(FullPlanLinkSettings.DefaultLifetime - TimeSpan.FromMinutes(1));
        using (var stillValid = await GetAsync(link))
        {
            Assert.Equal(HttpStatusCode.OK, stillValid.StatusCode);
        }

        _time.Advance(TimeSpan.FromMinutes(1));
        using var response = await GetAsync(link);

        Assert.Equal(HttpStatusCode.Gone, response.StatusCode);
        Assert.Contains("Open the check run on the pull request again for a fresh link", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Get_ArtifactDeleted_NotFound()
    {
        var key = await StoreAsync(PlanFixtures.Generated(3, mixed: false));
        var link = Links.UrlFor(key)!;
        await Artifacts.DeleteAsync(key);

        using var response = await GetAsync(link);

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    [Fact]
    public async Task Get_SignedLinkToTheRawPlanFile_ForbiddenAndNothingServed()
    {
        // Only rendered plan JSON is ever served: a link naming the binary plan (or a log) is refused outright.
        var key = await StoreAsync(PlanFixtures.Generated(3, mixed: false), name: ArtifactKeys.PlanFile);

        using var response = await GetAsync(Links.UrlFor(key)!);

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.DoesNotContain(PlanFixtures.SecretMarker, await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public void UrlFor_NoPublicUrl_Null()
    {
        var settings = FullPlanLinkSettings.From(new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["GitHub:WebhookSecret"] = "It's a Secret to Everybody",
        }).Build());

        Assert.Null(new FullPlanLinks(settings, _time).UrlFor("repos/o/r/pulls/1/x/plan.json"));
        Assert.Equal(TimeSpan.FromDays(30), settings.Lifetime);
    }

    [Theory]
    [InlineData("soon")]
    [InlineData("-1.00:00:00")]
    public void From_BadLifetime_NamesTheKey(string lifetime)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["GitHub:WebhookSecret"] = "It's a Secret to Everybody",
            ["Ensemble:PlanLinkLifetime"] = lifetime,
        }).Build();

        var error = Assert.Throws<InvalidOperationException>(() => FullPlanLinkSettings.From(configuration));
        Assert.Contains("Ensemble:PlanLinkLifetime", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void From_OwnSigningKey_LinksFromTheWebhookSecretNoLongerVerify()
    {
        var fromSecret = new FullPlanLinks(FullPlanLinkSettings.From(Config(("GitHub:WebhookSecret", "s3cret-one"), ("Ensemble:PublicUrl", "https://e"))), _time);
        var fromOwnKey = new FullPlanLinks(FullPlanLinkSettings.From(Config(("GitHub:WebhookSecret", "s3cret-one"), ("Ensemble:LinkSigningKey", "separate-key"),
            ("Ensemble:PublicUrl", "https://e"))), _time);
        var token = fromSecret.UrlFor("repos/o/r/pulls/1/x/plan.json")!.Split('/')[^1];

        Assert.IsType<LinkCheck.Valid>(fromSecret.Verify(token));
        Assert.IsType<LinkCheck.Invalid>(fromOwnKey.Verify(token));
    }

    private static IConfiguration Config(params (string Key, string Value)[] values) =>
        new ConfigurationBuilder().AddInMemoryCollection(values.Select(v => KeyValuePair.Create(v.Key, (string?)v.Value))).Build();

    private static int Occurrences(string text, string value)
    {
        int count = 0, at = 0;
        while ((at = text.IndexOf(value, at, StringComparison.Ordinal)) >= 0)
        {
            count++;
            at += value.Length;
        }

        return count;
    }
}
