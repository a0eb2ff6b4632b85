"""Model-graded evaluation (a judge's ``GRADE: WORD``), and numbers with space separators."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from doteval import ItemTimeoutError, RetryPolicy, Score, foreach
from doteval.evaluators import GradeNotFoundError, model_graded, numeric_match
from doteval.metrics import accuracy
from doteval.testing import FakeModel

FAST = RetryPolicy(wait_initial=0.001, wait_max=0.01, wait_jitter=0)


class Judge:
    """A judge that replies ``reply`` and keeps the prompts it was sent."""

    def __init__(self, reply: str) -> None:
        self.reply = reply
        self.prompts: list[str] = []

    async def __call__(self, prompt: str) -> str:
        self.prompts.append(prompt)
        await anyio.lowlevel.checkpoint()
        return self.reply


async def test_a_fake_model_judge_grades_answers_in_a_run() -> None:
    """FakeModel answers from its mapping: the template makes each prompt a known key."""
    judge = FakeModel(
        answers={
            "Grade: Paris": "It names the capital.\nGRADE: CORRECT",
            "Grade: Lyon": "Lyon is not the capital.\nGRADE: INCORRECT",
        }
    )
    rows = [("Capital of France?", "Paris"), ("Capital of France?", "Lyon")]

    @foreach("question,answer", rows)
    async def eval_judged(question: str, answer: str) -> Score:
        return await model_graded(
            judge.generate, question=question, answer=answer, template="Grade: {answer}"
        )

    result = await eval_judged(progress=False)
    assert result.summary == {"model_graded": {"accuracy": 0.5}}
    correct, wrong = result.records
    assert correct.scores[0].value is True
    assert wrong.scores[0].value is False
    assert correct.scores[0].metadata == {
        "grade": "CORRECT",
        "judge_reply": "It names the capital.\nGRADE: CORRECT",
    }
    assert wrong.scores[0].metadata["grade"] == "INCORRECT"
    assert judge.calls == 2


async def test_the_default_prompt_shows_what_it_is_given() -> None:
    judge = Judge("GRADE: CORRECT")
    score = await model_graded(judge, question="2+2?", answer="four")
    assert score == Score(
        "model_graded",
        True,
        (accuracy,),
        {"grade": "CORRECT", "judge_reply": "GRADE: CORRECT"},
    )
    (plain,) = judge.prompts
    assert "[Question]\n2+2?\n" in plain
    assert "[Answer]\nfour\n" in plain
    assert "[Reference answer]" not in plain
    assert "[Rubric]" not in plain
    assert '"GRADE: WORD", where WORD is one of CORRECT, INCORRECT (CORRECT if' in plain

    await model_graded(judge, question="2+2?", answer="four", reference="4", rubric="Be strict.")
    full = judge.prompts[1]
    assert "[Reference answer]\n4\n" in full
    assert "[Rubric]\nBe strict.\n" in full
    assert "given the reference answer and the rubric" in full


async def test_a_template_fills_only_its_placeholders() -> None:
    judge = Judge("GRADE: PASS")
    await model_graded(
        judge,
        question="Q",
        answer="A",
        reference=42,
        template='{question}|{answer}|{reference}|{rubric}|{grades}|{"json": {other}}',
        grades=("PASS", "FAIL"),
    )
    assert judge.prompts == ['Q|A|42||PASS, FAIL|{"json": {other}}']


async def test_a_template_without_the_answer_is_refused() -> None:
    with pytest.raises(ValueError, match=r"template= has no \{answer\} placeholder"):
        await model_graded(Judge("GRADE: CORRECT"), question="Q", answer="A", template="{question}")


@pytest.mark.parametrize(
    ("reply", "grade"),
    [
        ("GRADE: INCORRECT\nWait, I misread.\nGRADE: CORRECT", "CORRECT"),  # the last one
        ("GRADE: CORRECT ... on reflection: grade: incorrect.", "INCORRECT"),
        ("Reasoning...\n**GRADE: correct**", "CORRECT"),
        ("GRADE:INCORRECT", "INCORRECT"),
        ('GRADE: "CORRECT"', "CORRECT"),
        ("GRADE: CORRECTLY\nGRADE: INCORRECT", "INCORRECT"),  # whole words only
    ],
)
async def test_the_last_whole_word_grade_counts(reply: str, grade: str) -> None:
    score = await model_graded(Judge(reply), question="Q", answer="A")
    assert score.metadata["grade"] == grade
    assert score.value is (grade == "CORRECT")


@pytest.mark.parametrize(
    "reply", ["The answer looks right.", "GRADE: CORRECTLY", "DOWNGRADE: CORRECT", "GRADE: maybe"]
)
async def test_a_reply_without_a_grade_is_an_error_quoting_it(reply: str) -> None:
    with pytest.raises(GradeNotFoundError) as raised:
        await model_graded(Judge(reply), question="Q", answer="A")
    assert repr(reply) in str(raised.value)
    assert "CORRECT, INCORRECT" in str(raised.value)


async def test_an_unparsable_reply_is_that_items_error_record() -> None:
    judges = {"good": Judge("GRADE: CORRECT"), "rambling": Judge("I think it is fine")}

    @foreach("name", ["good", "rambling"])
    async def eval_judged(name: str) -> Score:
        return await model_graded(judges[name], question="Q", answer=name)

    result = await eval_judged(progress=False, retries=0)
    (error,) = result.errors
    assert error.row == {"name": "rambling"}
    assert error.error.type == "doteval.evaluators.GradeNotFoundError"  # type: ignore[union-attr]
    assert "it replied: 'I think it is fine'" in error.error.message  # type: ignore[union-attr]
    assert result.summary["model_graded"]["accuracy"] == 0.5


async def test_the_judges_errors_are_the_items_so_its_retries_apply() -> None:
    calls = 0

    async def flaky_judge(prompt: str) -> str:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise TimeoutError("judge overloaded")
        return "GRADE: CORRECT"

    @foreach("answer", ["A"])
    async def eval_judged(answer: str) -> Score:
        return await model_graded(flaky_judge, question="Q", answer=answer)

    result = await eval_judged(progress=False, retries=FAST)
    (record,) = result.records
    assert record.error is None
    assert record.attempts == 2
    assert record.scores[0].value is True


async def test_the_items_timeout_applies_to_the_judge() -> None:
    async def stuck_judge(prompt: str) -> str:
        await anyio.sleep_forever()
        raise AssertionError("unreachable")

    @foreach("answer", ["A"])
    async def eval_judged(answer: str) -> Score:
        return await model_graded(stuck_judge, question="Q", answer=answer)

    result = await eval_judged(progress=False, retries=0, timeout=0.05)
    (record,) = result.errors
    assert record.error.type == "doteval.ItemTimeoutError"  # type: ignore[union-attr]
    assert issubclass(ItemTimeoutError, TimeoutError)


async def test_grades_of_your_own_the_first_passes() -> None:
    for reply, value in [("GRADE: C", True), ("GRADE: I", False), ("grade: p", False)]:
        score = await model_graded(
            Judge(reply), question="Q", answer="A", grades=("C", "P", "I"), name="letter"
        )
        assert score.name == "letter"
        assert score.value is value


@pytest.mark.parametrize("grades", [("CORRECT",), "CORRECT", ("A", "a"), ("A", "two words"), ()])
async def test_grades_must_be_two_or_more_different_words(grades: Any) -> None:
    with pytest.raises(ValueError, match="grades= takes two or more different words"):
        await model_graded(Judge("GRADE: A"), question="Q", answer="A", grades=grades)


async def test_a_judge_must_be_async_and_return_text() -> None:
    with pytest.raises(TypeError, match="needs an async callable"):
        await model_graded(lambda prompt: "GRADE: CORRECT", question="Q", answer="A")  # type: ignore[arg-type,return-value]

    async def returns_an_object(prompt: str) -> Any:
        return {"content": "GRADE: CORRECT"}

    with pytest.raises(TypeError, match=r"returned dict .* not the reply text"):
        await model_graded(returns_an_object, question="Q", answer="A")


async def test_a_forgotten_await_on_the_answer_is_named() -> None:
    async def answer() -> str:
        return "A"

    with pytest.raises(TypeError, match="coroutine as answer=: did you forget `await`"):
        await model_graded(Judge("GRADE: CORRECT"), question="Q", answer=answer())


# --- numeric_match: spaces as thousands separators ------------------------------------


@pytest.mark.parametrize(
    ("result", "expected"),
    [
        ("1 234 567", 1234567),
        ("1\u2009234", 1234),  # thin space
        ("1\u202f234.5", "1234.5"),  # narrow no-break space
        ("1\u00a0234", 1234),  # no-break space
        ("$1 234", "1,234"),
        ("- 1 234", -1234),
        (" 12 345 ", 12345),
    ],
)
def test_numeric_match_takes_spaces_as_thousands_separators(result: str, expected: Any) -> None:
    assert numeric_match(result, expected).value is True


@pytest.mark.parametrize(
    ("result", "expected"),
    [
        ("12 34", 1234),  # not a group of three
        ("1 2345", 12345),
        ("1  234", 1234),  # two spaces are no separator
        ("1 234,567", 1234567),  # one kind of separator per number
        ("1,234 567", 1234567),
        ("1234 567", 1234567),  # the first group has at most three digits
        ("1 234.5 6", 1234.56),
        ("4 2", 42),
    ],
)
def test_numeric_match_rejects_spaces_that_are_not_groups(result: str, expected: Any) -> None:
    assert numeric_match(result, expected).value is False
