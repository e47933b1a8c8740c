"""Statements a course starts with, chosen by its topics, and the shared evaluation statements.

Trainers and administrators edit a course's statements once they exist; these only seed them.
Each default has a stable name (its ``origin``), so it is created at most once per course.
"""

from __future__ import annotations

from trainer.catalogue import Topic

C, K = "confidence", "knowledge"

BY_TOPIC: dict[str, list[tuple[str, str]]] = {
    Topic.SPEECH_LANGUAGE_COMMUNICATION: [
        (C, "I feel confident identifying children with speech, language and communication needs"),
        (C, "I feel confident supporting children's communication in everyday routines"),
        (K, "I know the typical stages of speech and language development"),
        (K, "I know when and how to ask for specialist speech and language advice"),
    ],
    Topic.AUTISM: [
        (C, "I feel confident supporting autistic children in my setting"),
        (C, "I feel confident adapting the environment for children with sensory differences"),
        (K, "I understand how autistic children may experience the world differently"),
    ],
    Topic.TRANSITION_TO_SCHOOL: [
        (C, "I feel confident planning a transition to school for a child with SEND"),
        (K, "I know what information a school needs to welcome a child with SEND"),
    ],
    Topic.WORKING_WITH_PARENTS: [
        (C, "I feel confident talking with parents and carers about a concern"),
        (K, "I know how to involve parents and carers in planning support"),
    ],
    Topic.MAKATON: [
        (C, "I feel confident using Makaton signs and symbols with children"),
        (K, "I know how signing supports children's understanding and talking"),
    ],
    Topic.BEHAVIOUR: [
        (C, "I feel confident responding to behaviour as communication"),
        (K, "I know strategies that help children regulate their feelings"),
    ],
    Topic.SENCO_ROLE: [
        (C, "I feel confident carrying out the SENCO role in my setting"),
        (K, "I know the SEND Code of Practice's graduated approach (assess, plan, do, review)"),
    ],
    Topic.SENSORY_AND_PHYSICAL: [
        (C, "I feel confident including children with sensory or physical needs in play"),
        (K, "I know where to find specialist support for sensory and physical needs"),
    ],
    Topic.EARLY_IDENTIFICATION: [
        (C, "I feel confident noticing when a child may need extra support"),
        (K, "I know what to do next when I have a concern about a child's development"),
    ],
}

GENERAL: list[tuple[str, str]] = [
    (C, "I feel confident applying what this course covers in my setting"),
    (K, "I know about the topics this course covers"),
]

EVALUATION: list[tuple[str, str]] = [
    ("useful", "The session was useful and informative"),
    ("understanding", "It increased my understanding"),
    ("apply", "I know how to apply this in my role"),
]


def for_topics(topics: list[str]) -> list[tuple[str, str, str]]:
    """``(origin suffix, kind, text)`` for a course with ``topics``: each topic's statements,
    confidence first, or the general pair when no topic has any."""
    chosen: list[tuple[str, str, str]] = []
    for topic in topics:
        for number, (kind, text) in enumerate(BY_TOPIC.get(topic, []), start=1):
            chosen.append((f"{topic}:{number}", kind, text))
    if not chosen:
        chosen = [(f"general:{number}", kind, text)
                  for number, (kind, text) in enumerate(GENERAL, start=1)]
    return sorted(chosen, key=lambda item: item[1] != C)
