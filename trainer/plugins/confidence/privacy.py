"""Subject access and erasure for questionnaire answers."""

from __future__ import annotations

import sqlalchemy as sa

from trainer.db import db, utcnow
from trainer.people import User
from trainer.plugins.confidence import service
from trainer.plugins.confidence.models import Invitation, Respondent, Stage


def user_data(user: User) -> dict[str, list[dict]] | None:
    """Every answer ``user`` gave, with the statements' wording, and the invitations sent."""
    answers = []
    for respondent in db.session.scalars(
            sa.select(Respondent).where(Respondent.user_id == user.id).order_by(Respondent.id)):
        training_session = respondent.training_session
        for response in sorted(respondent.responses, key=lambda r: list(Stage).index(r.stage)):
            answers.append({
                "training_session_id": training_session.id,
                "course": training_session.course.title,
                "stage": Stage(response.stage).label,
                "submitted_at": response.submitted_at.isoformat(),
                "recorded_on_your_behalf": response.recorded_how_label,
                "ratings": "; ".join(f"{rating.statement.text}: {rating.value}"
                                     for rating in response.ratings),
                "what_you_will_do_differently": response.do_differently or None,
                "other_comments": response.comments or None,
                "used_what_you_learned": response.used_learning_label,
                "what_got_in_the_way": response.barriers or None,
            })
    invitations = [
        {"training_session_id": invitation.training_session_id,
         "stage": Stage(invitation.stage).label,
         "invited_at": invitation.invited_at.isoformat() if invitation.invited_at else None,
         "reminded_at": invitation.reminded_at.isoformat() if invitation.reminded_at else None}
        for invitation in db.session.scalars(
            sa.select(Invitation).where(Invitation.user_id == user.id))
    ]
    if not answers and not invitations:
        return None
    return {"Questionnaire answers": answers, "Questionnaire invitations": invitations}


def erase_user(user: User) -> str:
    """Detach ``user``'s answers (ratings stay, paired by their random key, so every figure is
    unchanged) and delete their own words and invitations. Safe to call twice."""
    respondents = list(db.session.scalars(
        sa.select(Respondent).where(Respondent.user_id == user.id)))
    detached = service.detach(respondents, utcnow(), erase_text=True)
    db.session.execute(sa.delete(Invitation).where(Invitation.user_id == user.id))
    return f"Questionnaires: answers about {detached} training sessions detached"
