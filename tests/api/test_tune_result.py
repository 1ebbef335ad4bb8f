"""What tune is told and what it finds: settings refused when impossible, the result as tune.json."""

import json

import pytest

from lrsweep.api.tune_result import TuneResult, TuneSettings
from lrsweep.errors import UsageError


@pytest.mark.parametrize(
    "field, value",
    [("budget", 0), ("resolution", 1.0), ("scouts", 2), ("grace_fraction", 0), ("reduction", 1), ("finalists", 0)],
)
def test_impossible_settings_are_usage_errors_naming_the_setting(field, value):
    with pytest.raises(UsageError, match=field):
        TuneSettings(**{field: value}).check()


def test_the_result_reads_back_from_its_json_and_ignores_unknown_keys():
    result = TuneResult("runs/x", {"lr": 0.1}, {"low": 0.05, "high": 0.2}, {"trainings": 3.0}, [{"stage": "range"}])
    data = json.loads(json.dumps(result.to_dict()))
    assert TuneResult.from_dict({**data, "later": 1}) == result
