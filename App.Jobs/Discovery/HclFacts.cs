namespace Ensemble.Jobs.Discovery;

/// <summary>
/// What discovery needs to know about one <c>.tf</c> file. A pure function of the file's text
/// (<see cref="HclScanner.Scan"/>), so callers may cache it by git blob id.
/// </summary>
public sealed record HclFacts(
    BackendBlock? Backend,
    IReadOnlyList<ModuleCall> Modules,
    string? RequiredVersion,
    IReadOnlyList<FileRead> ReadFiles,
    IReadOnlyList<ScanProblem> Problems);

/// <summary>A top-level <c>terraform { backend "TYPE" {} }</c>, or <c>terraform { cloud {} }</c> with Type "cloud".</summary>
public sealed record BackendBlock(string Type, int Line);

/// <summary>A <c>module "NAME" { source = "…" }</c> call. Only local sources (<c>./</c>, <c>../</c>) are followed.</summary>
public sealed record ModuleCall(string Name, string Source, bool IsLocal, int Line);

/// <summary>A file the configuration reads by a plain relative path (<c>file</c>, <c>templatefile</c>, …).</summary>
public sealed record FileRead(string Path, ReadBase Base, int Line);

/// <summary>
/// What a read path is relative to: <c>${path.module}</c> is the directory of the .tf file; a bare relative
/// path, <c>${path.root}</c> and <c>${path.cwd}</c> are the root module, i.e. the project directory.
/// </summary>
public enum ReadBase { ModuleDirectory, ProjectDirectory }

/// <summary>Something the scanner could not make sense of; scanning carries on past it.</summary>
public sealed record ScanProblem(int Line, string Message);
