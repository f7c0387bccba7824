using System.Text;

namespace Ensemble.Tests.Plans;

/// <summary>
/// Large synthetic plans for the tests and for bench/render (which compiles this file in): no test framework here.
/// </summary>
internal static class PlanGenerator
{
    public const string SecretMarker = "S3CRET-MARKER-7f1c";

    /// <summary>A plan where <paramref name="kindOf"/> picks each resource's change: 0 create, 1 replace, 2 destroy.</summary>
    public static byte[] Generate(int count, Func<int, int> kindOf)
    {
        var sb = new StringBuilder("""{"format_version":"1.2","terraform_version":"1.9.0","resource_changes":[""");
        for (var i = 0; i < count; i++)
        {
            var kind = kindOf(i);
            var address = $"module.app.aws_instance.web[\"{i:D5}<b>\"]";
            var before = $$"""{"ami":"ami-old","password":"{{SecretMarker}}-b{{i}}","rules":[{"cidr":"10.0.0.0/8","token":"{{SecretMarker}}-nb{{i}}"}],"policy":"{\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"s3:GetObject\"}]}"}""";
            var after = $$"""{"ami":"ami-new","password":"{{SecretMarker}}-a{{i}}","rules":[{"cidr":"10.0.0.0/16","token":"{{SecretMarker}}-na{{i}}"}],"policy":"{\"Statement\":[{\"Effect\":\"Deny\",\"Action\":\"s3:GetObject\"}]}"}""";
            const string sensitive = """{"password":true,"rules":[{"token":true}]}""";
            var change = kind switch
            {
                0 => $$"""{"actions":["create"],"before":null,"after":{{after}},"after_unknown":{"id":true},"before_sensitive":false,"after_sensitive":{{sensitive}}}""",
                1 => $$"""{"actions":["delete","create"],"before":{{before}},"after":{{after}},"after_unknown":{"id":true},"before_sensitive":{{sensitive}},"after_sensitive":{{sensitive}},"replace_paths":[["ami"]]}""",
                _ => $$"""{"actions":["delete"],"before":{{before}},"after":null,"after_unknown":{},"before_sensitive":{{sensitive}},"after_sensitive":false}""",
            };
            var reason = kind switch { 1 => ""","action_reason":"replace_because_cannot_update" """, 2 => ""","action_reason":"delete_because_no_resource_config" """, _ => "" };
            if (i > 0) sb.Append(',');
            sb.Append($$"""{"address":{{System.Text.Json.JsonSerializer.Serialize(address)}},"module_address":"module.app","mode":"managed","type":"aws_instance","name":"web","index":"{{i:D5}}<b>","provider_name":"registry.terraform.io/hashicorp/aws","change":{{change}}{{reason}}}""");
        }

        sb.Append("""],"output_changes":{"db_password":{"actions":["create"],"before":null,"after":"S3CRET-MARKER-7f1c-out","after_unknown":false,"before_sensitive":false,"after_sensitive":true}}}""");
        return Encoding.UTF8.GetBytes(sb.ToString());
    }

    public static string AddressOf(int i) => $"module.app.aws_instance.web[\"{i:D5}<b>\"]";
}
