using System.Globalization;
using Ensemble.Bench.PrThroughput;

if (args is ["pickup-enqueue", var settings, var connection, var tag, var count, var interval, var work])
{
    return await Pickup.EnqueueMainAsync(settings, connection, tag, int.Parse(count, CultureInfo.InvariantCulture), int.Parse(interval, CultureInfo.InvariantCulture), work);
}

if (args is ["--record-stand-in", var directory, "--terraform", var standIn])
{
    return await StandInRecording.RecordAsync(Path.GetFullPath(standIn), Path.GetFullPath(directory));
}

BenchOptions options;
try
{
    options = BenchOptions.Parse(args);
}
catch (ArgumentException e)
{
    Console.Error.WriteLine(e.Message);
    return 2;
}

var machine = ProcStat.Machine();
Log.Line(machine);
Throughput.Result? throughput = null;
Pickup.Result? pickup = null;
if (options.Only is null or "throughput")
{
    throughput = await Throughput.RunAsync(options);
}

if (options.Only is null or "pickup")
{
    pickup = await Pickup.RunAsync(options);
}

Console.WriteLine(Report.Markdown(options, machine, throughput, pickup));
return 0;
