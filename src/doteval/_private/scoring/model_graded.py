"""Grading an open-ended answer with a model: the judge's last ``GRADE: WORD`` decides."""

from __future__ import annotations

import inspect
import re
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from doteval._private.errors import GradeNotFoundError
from doteval._private.scoring.metric import accuracy
from doteval._private.scoring.score import Score

Judge = Callable[[str], Awaitable[str]]
"""An async callable from a prompt to the judge model's reply text."""

DEFAULT_TEMPLATE = """\
You are grading an answer to a question.

[Question]
{question}

[Answer]
{answer}
{reference_section}{rubric_section}
Judge whether the answer is correct{criteria}. Reason briefly, then end your reply \
with a line of the form "GRADE: WORD", where WORD is one of {grades} ({correct} if \
the answer is correct).
"""
"""The prompt ``model_graded`` sends without ``template=``. The sections for the
reference and the rubric appear only when they are given."""

_PLACEHOLDER = re.compile(r"\{(question|answer|reference|rubric|grades)\}")


def _check_grades(grades: Sequence[str]) -> tuple[str, ...]:
    chosen = (grades,) if isinstance(grades, str) else tuple(grades)
    if (
        len(chosen) < 2
        or not all(isinstance(grade, str) and re.fullmatch(r"\w+", grade) for grade in chosen)
        or len({grade.casefold() for grade in chosen}) != len(chosen)
    ):
        raise ValueError(
            f"grades= takes two or more different words, the passing one first, such as "
            f'("CORRECT", "INCORRECT"), got {grades!r}'
        )
    return chosen


def render(
    template: str | None,
    *,
    question: Any,
    answer: Any,
    reference: Any,
    rubric: str | None,
    grades: tuple[str, ...],
) -> str:
    """The judge's prompt: ``template`` with its placeholders filled in.

    Only ``{question}``, ``{answer}``, ``{reference}``, ``{rubric}`` and ``{grades}``
    are replaced, so other braces (a JSON example) stay as written.
    """
    listed = ", ".join(grades)
    if template is None:
        return DEFAULT_TEMPLATE.format(
            question=question,
            answer=answer,
            reference_section="" if reference is None else f"\n[Reference answer]\n{reference}\n",
            rubric_section="" if rubric is None else f"\n[Rubric]\n{rubric}\n",
            criteria=_criteria(reference, rubric),
            grades=listed,
            correct=grades[0],
        )
    if "{answer}" not in template:
        raise ValueError(
            "template= has no {answer} placeholder, so the judge would never see the "
            "answer it grades; placeholders: {question}, {answer}, {reference}, "
            "{rubric}, {grades}"
        )
    values = {
        "question": question,
        "answer": answer,
        "reference": "" if reference is None else reference,
        "rubric": "" if rubric is None else rubric,
        "grades": listed,
    }
    return _PLACEHOLDER.sub(lambda match: str(values[match[1]]), template)


def _criteria(reference: Any, rubric: str | None) -> str:
    if reference is not None and rubric is not None:
        return ", given the reference answer and the rubric"
    if reference is not None:
        return ", given the reference answer"
    if rubric is not None:
        return " by the rubric"
    return ""


def parse_grade(reply: str, grades: tuple[str, ...]) -> str:
    """The grade of the last ``GRADE: WORD`` in ``reply`` whose word is one of ``grades``."""
    words = "|".join(re.escape(grade) for grade in sorted(grades, key=len, reverse=True))
    pattern = re.compile(rf"\bGRADE\s*:\s*[*_`\"']*({words})\b", re.IGNORECASE)
    found = pattern.findall(reply)
    if not found:
        quoted = reply if len(reply) <= 500 else reply[:250] + " [...] " + reply[-250:]
        raise GradeNotFoundError(
            f"the judge's reply has no line 'GRADE: WORD' with WORD one of "
            f"{', '.join(grades)}; it replied: {quoted!r}"
        )
    last = found[-1].casefold()
    return next(grade for grade in grades if grade.casefold() == last)


async def model_graded(
    judge: Judge,
    *,
    question: Any,
    answer: Any,
    reference: Any = None,
    rubric: str | None = None,
    template: str | None = None,
    grades: Sequence[str] = ("CORRECT", "INCORRECT"),
    name: str = "model_graded",
) -> Score:
    """Ask ``judge`` to grade ``answer``; the score is true when it gives the first grade.

    The judge is called inside the item, so the item's retries, timeout and rate
    limits apply to it, and its errors are the item's (nothing is caught here). A
    reply without a grade raises, quoting the reply, so the item becomes an error
    record. The score's metadata keeps the grade and the judge's whole reply.
    """
    chosen = _check_grades(grades)
    for label, value in (("question", question), ("answer", answer), ("reference", reference)):
        if inspect.iscoroutine(value):
            value.close()  # silences "never awaited": the error says it
            raise TypeError(
                f"model_graded() received a coroutine as {label}=: did you forget `await` "
                f"before the model call?"
            )
    if not callable(judge):
        raise TypeError(
            f"model_graded() takes as judge an async callable from a prompt to the reply "
            f"text, got {type(judge).__name__} {judge!r}"
        )
    prompt = render(
        template,
        question=question,
        answer=answer,
        reference=reference,
        rubric=rubric,
        grades=chosen,
    )
    pending = judge(prompt)
    if not inspect.isawaitable(pending):
        raise TypeError(
            f"the judge {judge!r} returned {type(pending).__name__}, not an awaitable: "
            f"model_graded() needs an async callable (`async def judge(prompt): ...`)"
        )
    reply = await pending
    if not isinstance(reply, str):
        raise TypeError(
            f"the judge returned {type(reply).__name__} {reply!r}, not the reply text; "
            f"make it return a str (for an OpenAI client: response.choices[0].message.content)"
        )
    grade = parse_grade(reply, chosen)
    return Score(name, grade == chosen[0], (accuracy,), {"grade": grade, "judge_reply": reply})
