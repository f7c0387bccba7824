namespace Ensemble.Tests.Infrastructure;

/// <summary>The services <c>scripts/test</c> starts, found through environment variables it sets.</summary>
public static class TestServices
{
    /// <summary>Npgsql connection string of a superuser on a throwaway cluster (may CREATE DATABASE).</summary>
    public const string PostgresVariable = "ENSEMBLE_TEST_POSTGRES";

    /// <summary>Base URL of an S3-compatible server (s3rver), e.g. <c>http://127.0.0.1:41234</c>.</summary>
    public const string S3UrlVariable = "ENSEMBLE_TEST_S3_URL";

    /// <summary>The credentials s3rver accepts.</summary>
    public const string S3AccessKey = "S3RVER";

    public const string S3SecretKey = "S3RVER";

    public static string PostgresConnectionString => Require(PostgresVariable, "PostgreSQL");

    public static string S3ServiceUrl => Require(S3UrlVariable, "S3");

    private static string Require(string variable, string service)
    {
        var value = Environment.GetEnvironmentVariable(variable);
        if (string.IsNullOrWhiteSpace(value))
        {
            throw new InvalidOperationException(
                $"{variable} is not set, so this {service} integration test has nothing to talk to: " +
                "run scripts/test, which starts PostgreSQL and S3 and sets it " +
                "(or skip integration tests with --filter \"Category!=Integration\").");
        }

        return value;
    }
}
