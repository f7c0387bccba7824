using Ensemble.Jobs.State;
using Npgsql;

namespace Ensemble.Tests.State;

public sealed class PostgresPoolsTests
{
    [Theory]
    [InlineData("Host=db;Username=ensemble;Password=p;Database=ensemble", PostgresPools.DefaultMaxAutoPrepare)]
    [InlineData("Host=db;Username=ensemble;Max Auto Prepare=0", 0)] // behind PgBouncer in transaction mode
    [InlineData("Host=db;Username=ensemble;maxautoprepare=12", 12)]
    public void ConnectionString_PreparesStatementsUnlessTheOperatorChose(string configured, int expected)
    {
        var pooled = new NpgsqlConnectionStringBuilder(PostgresPools.ConnectionString(configured));

        Assert.Equal(expected, pooled.MaxAutoPrepare);
        Assert.True(pooled.NoResetOnClose);
        Assert.Equal(("db", "ensemble"), (pooled.Host, pooled.Username));
    }
}
