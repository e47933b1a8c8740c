"""Courses: the list of those you manage, adding one and changing one.

A trainer adds courses for their own delivery partner; an administrator for any partner.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask import current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy.orm import selectinload

from trainer.access import MANAGERS, course_or_403, is_admin, roles_required
from trainer.catalogue import Course
from trainer.db import db
from trainer.forms import choices
from trainer.people import DeliveryPartner
from trainer.web.manage import bp, page_number
from trainer.web.manage.forms import CourseForm


@bp.route("/courses")
@roles_required(*MANAGERS)
def courses():
    """The courses you manage, with links to change them or add a training session."""
    statement = sa.select(Course).options(selectinload(Course.delivery_partner)).order_by(
        Course.title, Course.id
    )
    if not is_admin(current_user):
        statement = statement.where(
            Course.delivery_partner_id == current_user.delivery_partner_id
        )
    pagination = db.paginate(statement, page=page_number(),
                             per_page=current_app.config["PAGE_SIZE"], error_out=False)
    return render_template("manage/courses.html", pagination=pagination)


@bp.route("/courses/new", methods=["GET", "POST"])
@roles_required(*MANAGERS)
def new_course():
    """Add a course for your delivery partner (administrators: for any partner)."""
    if not is_admin(current_user) and current_user.delivery_partner_id is None:
        return render_template("manage/no_partner.html")
    form = CourseForm(data={"delivery_partner": str(current_user.delivery_partner_id or "")}
                      if request.method == "GET" else None)
    form.delivery_partner.choices = _partner_choices()
    if form.validate_on_submit():
        course = Course()
        _apply_course(form, course)
        db.session.add(course)
        db.session.commit()
        flash(f"{course.title} has been added. Now add a training session.", "success")
        return redirect(url_for("manage.new_session", course_id=course.id))
    return render_template("manage/course_form.html", form=form, course=None)


@bp.route("/courses/<int:course_id>/edit", methods=["GET", "POST"])
@roles_required(*MANAGERS)
def edit_course(course_id: int):
    """Change a course's title, summary, topics, audience, level and accreditation."""
    course = course_or_403(course_id)
    form = CourseForm(data=_course_data(course) if request.method == "GET" else None)
    form.delivery_partner.choices = _partner_choices()
    if form.validate_on_submit():
        _apply_course(form, course)
        db.session.commit()
        flash(f"{course.title} has been saved.", "success")
        return redirect(url_for("manage.courses"))
    return render_template("manage/course_form.html", form=form, course=course)


def _course_data(course: Course) -> dict:
    return {
        "title": course.title, "summary": course.summary, "topics": course.topics,
        "audiences": course.audiences, "level": course.level, "accredited": course.accredited,
        "credits": course.credits, "delivery_partner": str(course.delivery_partner_id),
    }


def _apply_course(form: CourseForm, course: Course) -> None:
    course.title = form.title.data
    course.summary = form.summary.data
    course.topics = form.topics.data
    course.audiences = form.audiences.data
    course.level = form.level.data
    course.accredited = bool(form.accredited.data)
    course.credits = form.credits.data if course.accredited else None
    course.delivery_partner_id = int(form.delivery_partner.data)


def _partner_choices():
    statement = sa.select(DeliveryPartner.id, DeliveryPartner.name).order_by(
        DeliveryPartner.name
    )
    if not is_admin(current_user):
        statement = statement.where(DeliveryPartner.id == current_user.delivery_partner_id)
    rows = db.session.execute(statement).all()
    blank = [("", "Select a delivery partner")] if len(rows) != 1 else []
    return choices(blank + [(row.id, row.name) for row in rows])
