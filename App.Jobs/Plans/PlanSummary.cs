namespace Ensemble.Jobs.Plans;

/// <summary>Counts of what apply would do. Imports and moves are counted on top of the action they come with.</summary>
public sealed record PlanSummary(
    int Add, int Change, int Replace, int Destroy, int Import, int Move, int Forget, int Read, int OutputChanges, int ActionInvocations)
{
    /// <summary>
    /// Whether apply would do anything. No-op and data reads do not count; output-only changes do, as
    /// <c>terraform plan -detailed-exitcode</c> exits 2 for them.
    /// </summary>
    public bool HasChanges =>
        Add + Change + Replace + Destroy + Import + Move + Forget + OutputChanges + ActionInvocations > 0;

    public static PlanSummary From(PlanDocument plan)
    {
        int add = 0, change = 0, replace = 0, destroy = 0, import = 0, move = 0, forget = 0, read = 0;
        foreach (var c in plan.ResourceChanges)
        {
            switch (c.Action)
            {
                case PlanAction.Create: add++; break;
                case PlanAction.Update: change++; break;
                case PlanAction.Replace: replace++; break;
                case PlanAction.Delete: destroy++; break;
                case PlanAction.Forget: forget++; break;
                case PlanAction.Read: read++; break;
            }

            if (c.IsImport)
            {
                import++;
            }

            if (c.IsMove)
            {
                move++;
            }
        }

        var outputs = plan.OutputChanges.Count(o => o.Action != PlanAction.NoOp);
        return new PlanSummary(add, change, replace, destroy, import, move, forget, read, outputs, plan.ActionInvocations.Count);
    }
}
