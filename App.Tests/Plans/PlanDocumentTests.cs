using System.Text.Json;
using Ensemble.Jobs.Plans;

namespace Ensemble.Tests.Plans;

public class PlanDocumentTests
{
    public static TheoryData<string> ValidFixtures() => PlanFixtures.Valid();

    [Theory]
    [MemberData(nameof(ValidFixtures))]
    public void Parse_RealPlan_Succeeds(string fixture)
    {
        var result = PlanDocument.Parse(PlanFixtures.Bytes(fixture));

        Assert.True(result.IsSuccess, result.Error);
        Assert.NotEmpty(result.Plan!.FormatVersion);
    }

    [Theory]
    [InlineData("borchero-1.13-terragrunt-concatenated.json", "several JSON documents")]
    [InlineData("checkov-1.0-utf16le-bom.json", "UTF-16")]
    [InlineData("invalid-infracost-setup-terraform-wrapper.json", "setup-terraform wrapper")]
    [InlineData("invalid-tfjson-trailing-data.json", "extra data after the JSON document")]
    public void Parse_InvalidFile_GivesOneLineReason(string fixture, string expected)
    {
        var result = PlanDocument.Parse(PlanFixtures.Bytes(fixture));

        Assert.False(result.IsSuccess);
        Assert.Contains(expected, result.Error, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', result.Error!);
    }

    [Theory]
    [InlineData("", "empty")]
    [InlineData("   ", "empty")]
    [InlineData("not json", "not a JSON object")]
    [InlineData("[1,2]", "not a JSON object")]
    [InlineData("{\"format_version\":\"1.2\",", "not valid JSON")]
    [InlineData("{\"resource_changes\":[]}", "no format_version")]
    [InlineData("{\"format_version\":\"2.0\",\"resource_changes\":[]}", "format_version 2.0 is not supported")]
    [InlineData("{\"format_version\":\"1.0\",\"values\":{}}", "Terraform state")]
    [InlineData("{\"format_version\":\"1.2\",\"resource_changes\":[{\"address\":\"a.b\",\"change\":{\"actions\":[\"explode\"]}}]}", "actions [explode]")]
    [InlineData("{\"format_version\":\"1.2\",\"resource_changes\":[{\"change\":{\"actions\":[]}}]}", "resource_changes[0] has no address")]
    [InlineData("{\"format_version\":\"1.2\",\"resource_changes\":{}}", "resource_changes should be an array")]
    public void Parse_BadInput_GivesClearReason(string json, string expected)
    {
        var result = PlanDocument.Parse(json);

        Assert.False(result.IsSuccess);
        Assert.Contains(expected, result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_Utf8Bom_IsAccepted()
    {
        var result = PlanDocument.Parse((byte[])[0xEF, 0xBB, 0xBF, .. "{\"format_version\":\"1.2\"}"u8]);

        Assert.True(result.IsSuccess, result.Error);
    }

    [Fact]
    public void Parse_UnknownFieldsAndMinorVersion_AreIgnored()
    {
        var result = PlanDocument.Parse("""{"format_version":"1.9","future_field":{"x":1},"resource_changes":[{"address":"a.b","type":"a","name":"b","new_thing":1,"change":{"actions":["create"],"after":{},"shiny":true}}]}""");

        Assert.True(result.IsSuccess, result.Error);
        Assert.Equal(PlanAction.Create, Assert.Single(result.Plan!.ResourceChanges).Action);
    }

    [Fact]
    public void Parse_ReplaceFixture_HasReasonPathsAndSensitiveMarkers()
    {
        var plan = PlanFixtures.Load("ovsds-1.7-sensitive-replace.json");

        var change = Assert.Single(plan.ResourceChanges);
        Assert.Equal("random_bytes.test", change.Address);
        Assert.Equal(PlanAction.Replace, change.Action);
        Assert.Equal(ReplaceOrder.DeleteThenCreate, change.ReplaceOrder);
        Assert.Equal("replace_because_cannot_update", change.ActionReason);
        Assert.Equal(["length"], change.ReplacePathsDisplay);
        Assert.Equal(JsonValueKind.True, change.BeforeSensitive.GetProperty("hex").ValueKind);
        Assert.Equal(JsonValueKind.True, change.AfterUnknown.GetProperty("base64").ValueKind);
        Assert.Equal("1.7.5", plan.TerraformVersion);
        Assert.False(plan.Errored);
    }

    [Theory]
    [InlineData("\"no-op\"", PlanAction.NoOp, ReplaceOrder.None)]
    [InlineData("\"create\"", PlanAction.Create, ReplaceOrder.None)]
    [InlineData("\"read\"", PlanAction.Read, ReplaceOrder.None)]
    [InlineData("\"update\"", PlanAction.Update, ReplaceOrder.None)]
    [InlineData("\"delete\"", PlanAction.Delete, ReplaceOrder.None)]
    [InlineData("\"forget\"", PlanAction.Forget, ReplaceOrder.None)]
    [InlineData("\"delete\",\"create\"", PlanAction.Replace, ReplaceOrder.DeleteThenCreate)]
    [InlineData("\"create\",\"delete\"", PlanAction.Replace, ReplaceOrder.CreateThenDelete)]
    [InlineData("\"create\",\"forget\"", PlanAction.Create, ReplaceOrder.None)]
    public void Parse_ActionList_FoldsToOneAction(string actions, PlanAction expected, ReplaceOrder order)
    {
        var change = Assert.Single(PlanDocument.Parse("""{"format_version":"1.2","resource_changes":[{"address":"a.b","change":{"actions":[""" + actions + "]}}]}").Plan!.ResourceChanges);

        Assert.Equal((expected, order), (change.Action, change.ReplaceOrder));
    }

    [Fact]
    public void Parse_CreateBeforeDestroy_IsReplaceCreateThenDelete()
    {
        var change = Assert.Single(PlanFixtures.Load("checkov-1.2-create-before-destroy.json").ResourceChanges);

        Assert.Equal(PlanAction.Replace, change.Action);
        Assert.Equal(ReplaceOrder.CreateThenDelete, change.ReplaceOrder);
    }

    [Fact]
    public void Parse_ManyCreates_CountsAndForEachKeys()
    {
        var plan = PlanFixtures.Load("borchero-1.13-create-300.json");
        var summary = PlanSummary.From(plan);

        Assert.Equal(300, summary.Add);
        Assert.Equal(0, summary.Destroy + summary.Replace + summary.Change);
        Assert.All(plan.ResourceChanges, c => Assert.Equal(JsonValueKind.String, c.Index.ValueKind));
    }

    [Fact]
    public void Parse_ModulesAndCount_KeepModuleAddressAndIndex()
    {
        var plan = PlanFixtures.Load("infracost-0.14-modules-large.json");

        Assert.Equal("0.1", plan.FormatVersion);
        Assert.Contains(plan.ResourceChanges, c => c.ModuleAddress is not null && c.Address.StartsWith(c.ModuleAddress + ".", StringComparison.Ordinal));
        Assert.Contains(plan.ResourceChanges, c => c.Index.ValueKind == JsonValueKind.Number);
        Assert.Contains(plan.ResourceChanges, c => c.Action == PlanAction.NoOp);
    }

    [Fact]
    public void Parse_ImportMoveForget_AreRecognised()
    {
        var import = Assert.Single(PlanFixtures.Load("borchero-1.13-import.json").ResourceChanges);
        var move = Assert.Single(PlanFixtures.Load("borchero-1.13-moved.json").ResourceChanges);
        var forget = Assert.Single(PlanFixtures.Load("borchero-1.13-forget-removed-block.json").ResourceChanges);

        Assert.True(import.IsImport);
        Assert.Equal("imported-id", import.ImportId);
        Assert.True(move.IsMove);
        Assert.Equal("local_file.before", move.PreviousAddress);
        Assert.Equal(PlanAction.Forget, forget.Action);
    }

    [Fact]
    public void Parse_DriftDataReadsChecksOutputs_AreRead()
    {
        Assert.NotEmpty(PlanFixtures.Load("tf-resource-drift.json").ResourceDrift);
        Assert.Contains(PlanFixtures.Load("checkov-1.5-data-reads-foreach-modules.json").ResourceChanges,
            c => c.Mode == ResourceMode.Data && c.Action == PlanAction.Read && c.ActionReason == "read_because_config_unknown");
        Assert.Contains(PlanFixtures.Load("tf-conditions-checks.json").Checks, c => c.Status == "unknown");
        var check = Assert.Single(PlanFixtures.Load("tfjson-1.5-checks-foreach.json").Checks);
        Assert.Equal(("module.files.local_file.foo", "pass"), (check.Address, check.Status));
        var outputs = PlanFixtures.Load("tf-outputs-only-unknown.json").OutputChanges;
        Assert.Equal(["bar", "baz", "foo"], outputs.Select(o => o.Name));
        Assert.Equal(JsonValueKind.True, outputs.Single(o => o.Name == "baz").AfterUnknown.GetProperty("time").ValueKind);
    }

    [Fact]
    public void Parse_DeferredChangesAndDiagnostics_AreRead()
    {
        var plan = PlanDocument.Parse("""
            {"format_version":"1.2","errored":true,
             "deferred_changes":[{"reason":"provider_config_unknown","resource_change":{"address":"a.b","change":{"actions":["create"]}}}],
             "diagnostics":[{"severity":"error","summary":"Boom","detail":"it broke"}]}
            """).Plan!;

        Assert.True(plan.Errored);
        Assert.Equal("provider_config_unknown", Assert.Single(plan.DeferredChanges).Reason);
        Assert.Equal("Boom", Assert.Single(plan.Diagnostics).Summary);
    }

    [Theory]
    [InlineData("borchero-1.13-no-changes.json", false)]
    [InlineData("tf-basic-noop.json", false)]
    [InlineData("borchero-1.13-moved.json", true)]
    [InlineData("borchero-1.13-import.json", true)]
    [InlineData("tf-outputs-only-unknown.json", true)]
    [InlineData("tfjson-0.12-no-changes.json", true)]
    [InlineData("borchero-1.13-forget-removed-block.json", true)]
    public void Summary_HasChanges_FollowsWhatApplyWouldDo(string fixture, bool expected)
    {
        Assert.Equal(expected, PlanSummary.From(PlanFixtures.Load(fixture)).HasChanges);
    }

    [Fact]
    public void Summary_DataReadsOnly_IsNoChange()
    {
        var plan = PlanDocument.Parse("""{"format_version":"1.2","resource_changes":[{"address":"data.a.b","mode":"data","change":{"actions":["read"]}}]}""").Plan!;

        var summary = PlanSummary.From(plan);
        Assert.Equal(1, summary.Read);
        Assert.False(summary.HasChanges);
    }

    private const string Deleted = """{"address":"a.gone","change":{"actions":["delete"],"before":{"id":"1"},"after":null}}""";
    private const string DataRead = """{"address":"data.a.b","mode":"data","change":{"actions":["read"]}}""";

    [Theory]
    [InlineData(Deleted + "," + Deleted, true)]
    [InlineData(DataRead + "," + Deleted, true)]
    [InlineData(Deleted + """,{"address":"a.kept","change":{"actions":["no-op"]}}""", false)]
    [InlineData(Deleted + """,{"address":"a.new","change":{"actions":["create"]}}""", false)]
    [InlineData("""{"address":"a.r","change":{"actions":["delete","create"]}}""", false)]
    [InlineData(DataRead, false)]
    [InlineData("", false)]
    public void DestroysEverything_EveryManagedChangeADelete_True(string changes, bool expected)
    {
        var plan = PlanDocument.Parse("""{"format_version":"1.2","resource_changes":[""" + changes + "]}").Plan!;

        Assert.Equal(expected, plan.DestroysEverything);
    }

    [Fact]
    public void DestroysEverything_PlanThatDestroysSomeAndKeepsOne_False()
    {
        Assert.False(PlanFixtures.Load("borchero-1.13-delete.json").DestroysEverything);
    }

    [Theory]
    [InlineData("[1]", "resource_changes[0] (a.b).change.actions should hold strings but holds number")]
    [InlineData("[\"create\",null]", "resource_changes[0] (a.b).change.actions should hold strings but holds null")]
    [InlineData("\"create\"", "resource_changes[0] (a.b).change.actions should be an array but is string")]
    public void Parse_ActionsNotStrings_NamesTheField(string actions, string expected)
    {
        var result = PlanDocument.Parse("""{"format_version":"1.2","resource_changes":[{"address":"a.b","change":{"actions":""" + actions + "}}]}");

        Assert.Contains(expected, result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_SeveralProblems_ReportsTheFirstInFieldOrder()
    {
        // The version is checked before any resource, wherever it sits in the file.
        var result = PlanDocument.Parse("""{"resource_changes":[{"change":{}}],"format_version":"7.0"}""");

        Assert.Contains("format_version 7.0 is not supported", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_SyntaxErrorAfterAShapeProblem_ReportsTheSyntaxError()
    {
        var result = PlanDocument.Parse("""{"format_version":"1.2","resource_changes":[{"change":{}}],"x":[1,}""");

        Assert.Contains("not valid JSON (line 1", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void Values_ReadTwice_AreEqualAndIndependentOfTheInputBuffer()
    {
        var bytes = PlanFixtures.Bytes("ovsds-1.7-sensitive-replace.json");
        var change = Assert.Single(PlanDocument.Parse(bytes).Plan!.ResourceChanges);

        var first = change.After;
        var second = change.After;

        Assert.Equal(first.GetRawText(), second.GetRawText());
        Assert.Equal(JsonValueKind.Object, first.ValueKind);
        Assert.Equal(JsonValueKind.Undefined, change.Importing.ValueKind);
    }
}
