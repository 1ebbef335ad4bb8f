import math
import pickle

import pytest

from lrsweep.errors import ConfigError
from lrsweep.optim.schedulers.formula import compile_formula


@pytest.mark.parametrize(
    "text, x, expected",
    [
        ("0.95 ** epoch", 3, 0.95**3),
        ("1 - epoch / 10", 4, 0.6),
        ("-epoch + 2", 1, 1.0),
        ("(epoch // 3) % 2", 4, 1.0),
        ("exp(-epoch) + log(e) + sqrt(4) + cos(pi) + sin(0)", 0, 1 + 1 + 2 - 1 + 0),
        ("min(1, epoch / 5) * max(0.1, abs(-0.5))", 2, 0.4 * 0.5),
        ("floor(epoch / 2) + ceil(0.1)", 5, 3.0),
        ("log(8, 2)", 0, 3.0),
        ("0.1 if epoch < 5 else 1", 4, 0.1),
        ("0.1 if epoch < 5 else 1", 5, 1.0),
        ("1 if epoch >= 2 and not epoch > 4 else 0", 3, 1.0),
        ("1 < epoch <= 3", 3, 1.0),
        (0.9, 7, 0.9),  # a bare number is a constant factor (MultiplicativeLR)
    ],
)
def test_allowed_formulas_evaluate_like_python(text, x, expected):
    assert compile_formula(text)(x) == pytest.approx(expected)


def test_other_variable_names_are_the_callers_choice():
    formula = compile_formula("0.5 ** (step / 10)", names=("epoch", "step"))
    assert formula(10) == pytest.approx(0.5)
    with pytest.raises(ConfigError, match="the name 'step'"):
        compile_formula("0.5 ** step", names=("epoch",))


@pytest.mark.parametrize(
    "text, element",
    [
        ("__import__('os')", "calling '__import__'"),
        ("epoch.__class__", "attribute access '.__class__'"),
        ("().__class__", "attribute access '.__class__'"),
        ("().__class__.__bases__[0].__subclasses__()", "calling"),
        ("open('x')", "calling 'open'"),
        ("eval('1')", "calling 'eval'"),
        ("os", "the name 'os'"),
        ("x + 1", "the name 'x'"),
        ("lambda: 1", "lambda"),
        ("lambda epoch: epoch", "lambda"),
        ("[1, 2][0]", "subscript"),
        ("'abc'", "the constant 'abc'"),
        ("True", "the constant True"),
        ("exp", "the function 'exp' without a call"),
        ("exp(x=1)", "keyword arguments"),
        ("sqrt(1, 2)", "'sqrt' with 2 argument"),
        ("[x for x in (1,)]", "comprehension"),
        ("epoch @ 2", "operator '@'"),
        ("1 << 2000", "operator '<<'"),
    ],
)
def test_disallowed_elements_are_named(text, element):
    with pytest.raises(ConfigError) as info:
        compile_formula(text, key="scheduler.lr_lambda")
    message = str(info.value)
    assert element in message
    assert info.value.key == "scheduler.lr_lambda"
    assert "formula" in message and "allowed:" in message


@pytest.mark.parametrize("text", ["10 ** 10 ** 10", "9 ** 9 ** 9 ** 9", "exp(10000)", "1e308 * 10"])
def test_huge_results_are_refused_at_compile_time_not_computed(text):
    with pytest.raises(ConfigError, match="overflow|not finite"):
        compile_formula(text)


def test_huge_integer_literals_and_long_text_are_refused():
    with pytest.raises(ConfigError, match="number"):
        compile_formula("1" + "0" * 400)
    with pytest.raises(ConfigError, match="characters long"):
        compile_formula("1 + " * 200 + "1")


def test_runtime_failures_name_the_formula_and_the_value():
    formula = compile_formula("1 / (epoch - 3)")
    with pytest.raises(ConfigError, match=r"'1 / \(epoch - 3\)' fails at epoch=3: division by zero"):
        formula(3)
    with pytest.raises(ConfigError, match="overflow"):
        compile_formula("2 ** epoch")(5000)
    with pytest.raises(ConfigError, match="complex"):
        compile_formula("(epoch - 2) ** 0.5")(1)


@pytest.mark.parametrize("text", ["", "   ", "1 +", None, [1], {"a": 1}])
def test_empty_or_non_text_is_refused(text):
    with pytest.raises(ConfigError):
        compile_formula(text)


def test_formulas_pickle_and_compare_by_text():
    formula = compile_formula("0.9 ** epoch")
    copy = pickle.loads(pickle.dumps(formula))
    assert copy == formula and copy(2) == pytest.approx(0.81)
    assert str(formula) == "0.9 ** epoch"
    assert math.isfinite(copy(1000))
