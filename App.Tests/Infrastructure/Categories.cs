namespace Ensemble.Tests.Infrastructure;

/// <summary>
/// Trait values. Tests that need PostgreSQL or S3 carry <c>[Trait("Category", Categories.Integration)]</c>,
/// so the fast suite runs alone with <c>dotnet test --filter "Category!=Integration"</c>.
/// </summary>
public static class Categories
{
    public const string Integration = "Integration";
}
