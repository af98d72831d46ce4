"""Which actions a learner may take on a resource in each state (pure rules)."""

STOPPABLE = {
    "notebook": {"provisioning", "ready"},
    "training_job": {"provisioning", "running"},
    "transform_job": {"provisioning", "running"},
}
STARTABLE = {"notebook": {"stopped", "failed"}}
NOT_DELETABLE = {"requested", "submitting", "deleting", "deleted"}


def actions_for(kind: str, state: str) -> tuple[str, ...]:
    actions = []
    if state in STOPPABLE.get(kind, ()):
        actions.append("stop")
    if state in STARTABLE.get(kind, ()):
        actions.append("start")
    if state not in NOT_DELETABLE:
        actions.append("delete")
    return tuple(actions)
