"""The prepared data of one seed in ``task: generation``: questions and the weak models' token files.

``prepare`` writes ``questions.json`` and, per split, the weak tokenizer's prompt + answer ids
(``answers-weak-<split>.safetensors``, an :class:`EncodedAnswers`): the weak rounds train on easy, score
val by teacher forcing and decode every split's prompts from them, tokenised once. Students tokenise
their own (variant-specific) targets with the strong tokenizer in their stage.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from ensemw2s.spec import ExperimentSpec

from ...data.qa import QAItem
from ...store import StageOutput, StageWorkspace
from ...training.answer_encoding import EncodedAnswers, encode_answers
from .records import SPLITS, PreparedQuestions, QuestionRecord

QUESTIONS_FILE = "questions.json"


def answers_file(split: str) -> str:
    return f"answers-weak-{split}.safetensors"


def question_corpus(questions: dict[str, list[QAItem]]) -> list[str]:
    """Every prompt and target, in split order: the vocabulary of the offline word-level tokenizers."""
    return [text for name in SPLITS for item in questions[name] for text in (item.prompt, item.target)]


def encode_weak_answers(spec: ExperimentSpec, questions: dict[str, list[QAItem]]) -> dict[str, EncodedAnswers]:
    """Every split's prompt + answer ids under the weak model's tokenizer (tokenised once)."""
    from ...models import load_tokenizer

    tokenizer = load_tokenizer(spec.weak.model, question_corpus(questions), field="spec.weak.model")
    length = spec.weak.training.max_length
    return {
        name: encode_answers(tokenizer, [q.prompt for q in items], [q.target for q in items], length)
        for name, items in questions.items()
    }


def save_prepared_questions(
    workspace: StageWorkspace, questions: dict[str, list[QAItem]], encoded: dict[str, EncodedAnswers]
) -> None:
    records = {name: [QuestionRecord.of(item) for item in questions[name]] for name in SPLITS}
    workspace.write_model(QUESTIONS_FILE, PreparedQuestions(**records))
    for name, answers in encoded.items():
        answers.save(workspace.directory / answers_file(name))


@dataclass
class PreparedQuestionData:
    """Lazy reader of a generation prepare stage's output."""

    output: StageOutput
    _answers: dict[str, EncodedAnswers] = field(default_factory=dict, init=False, repr=False)

    @cached_property
    def records(self) -> PreparedQuestions:
        return self.output.read_model(QUESTIONS_FILE, PreparedQuestions)

    @cached_property
    def questions(self) -> dict[str, list[QAItem]]:
        return {name: [record.item() for record in self.records.split(name)] for name in SPLITS}

    @cached_property
    def corpus(self) -> list[str]:
        return question_corpus(self.questions)

    def answers(self, split: str) -> EncodedAnswers:
        """The split's weak token file, read once per stage."""
        if split not in self._answers:
            self._answers[split] = EncodedAnswers.load(self.output.local_path(answers_file(split)))
        return self._answers[split]
