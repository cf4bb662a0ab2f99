"""Property-based fuzzing of every operation in the running stack's /openapi.json (schemathesis):
whatever a caller sends, the API answers without a 5xx, and every documented answer matches its
schema. Each operation runs with a key holding every scope, so the fuzz reaches the handlers."""

import httpx
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

# Enough examples per operation to find crashes on odd input, few enough for `make test`'s budget.
EXAMPLES_PER_OPERATION = 12
CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]


def test_no_input_makes_any_operation_fail_or_break_its_schema(stack):
    team = stack.create_team("fuzz", "enterprise")
    headers = {"Authorization": f"Bearer {team['apiKey']}"}
    schema = schemathesis.openapi.from_dict(httpx.get(f"{stack.gateway_url}/openapi.json").json())
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 40

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def fuzz(case) -> None:
            response = case.call(base_url=stack.gateway_url, headers=headers, timeout=30)
            case.validate_response(response, checks=CHECKS)

        try:
            fuzz()
        except Exception as failure:  # every operation is fuzzed; all failures are reported together
            failures.append(f"{operation.label}: {str(failure)[:1500]}")
    assert not failures, "\n\n".join(failures)
