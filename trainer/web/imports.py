"""CSV imports, for administrators: each kind's format and template, and uploading a file.

A file is imported all or nothing (:func:`trainer.imports.run`): the page lists every problem
by line and column, or confirms how many rows were created, updated and unchanged. A request
bigger than ``IMPORT_MAX_BYTES`` is refused before it is read.
"""

from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user
from flask_wtf.file import FileField
from werkzeug.exceptions import RequestEntityTooLarge

from trainer import imports
from trainer.access import roles_required
from trainer.forms import BaseForm
from trainer.people import Role

bp = Blueprint("imports", __name__, url_prefix="/admin/imports")

PROBLEMS_SHOWN = 100  # listed on the page; the rest are counted
SUMMARY_SHOWN = 10  # in the error summary at the top
UPLOAD_MARGIN = 64 * 1024  # the form around the file
RESULT_KEY = "import_result"


class ImportForm(BaseForm):
    file = FileField("Upload a CSV file")


def _importer_or_404(kind: str) -> imports.Importer:
    importer = imports.importers().get(kind)
    if importer is None:
        abort(404)
    return importer


def _limits() -> dict[str, str]:
    config = current_app.config
    return {"size": imports.describe_size(int(config["IMPORT_MAX_BYTES"])),
            "rows": f"{int(config['IMPORT_MAX_ROWS']):,}"}


@bp.route("/")
@roles_required(Role.ADMIN)
def index():
    """Every kind of import, with its format and a template to download."""
    return render_template("imports/index.html", importers=list(imports.importers().values()),
                           limits=_limits())


@bp.route("/<kind>/template.csv")
@roles_required(Role.ADMIN)
def template(kind: str):
    """A CSV file with the header row and one example row."""
    importer = _importer_or_404(kind)
    return Response(
        "\ufeff" + importer.template_csv(),  # a byte order mark, so spreadsheets read UTF-8
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{kind}-template.csv"',
                 "Cache-Control": "no-store"},
    )


@bp.route("/<kind>", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def upload(kind: str):
    """Upload a file of this kind: every problem by line and column (nothing saved), or the
    counts of what was created, updated and unchanged."""
    importer = _importer_or_404(kind)
    if request.method == "GET":
        result = session.get(RESULT_KEY)
        if result and result.get("kind") == kind and request.args.get("done"):
            session.pop(RESULT_KEY)
        else:
            result = None
        return _page(importer, ImportForm(formdata=None), result=result)

    limit = int(current_app.config["IMPORT_MAX_BYTES"])
    request.max_content_length = limit + UPLOAD_MARGIN
    try:
        uploaded = request.files.get("file")
    except RequestEntityTooLarge:
        return _page(importer, ImportForm(formdata=None), problems=[imports.Problem(
            None, None, f"The selected file must be smaller than {imports.describe_size(limit)}")])
    # Exempt from the check before every view (it would read the body unlimited): check here.
    current_app.extensions["csrf"].protect()
    form = ImportForm()
    if not form.validate_on_submit():
        abort(400)
    if len(list(request.files.items(multi=True))) > 1:
        # The form sends one file; a request with more is refused whole, none of them read.
        return _page(importer, form, problems=[
            imports.Problem(None, None, "Upload one CSV file at a time")])
    if uploaded is None or not uploaded.filename:
        return _page(importer, form, problems=[imports.Problem(None, None, "Select a CSV file")])
    data = uploaded.stream.read(limit + 1)
    result = imports.run(importer, data, by=current_user._get_current_object())
    if not result.ok:
        return _page(importer, form, problems=result.problems, filename=uploaded.filename)
    counts = result.counts
    session[RESULT_KEY] = {"kind": kind, "filename": uploaded.filename[:200],
                           "created": counts.created, "updated": counts.updated,
                           "unchanged": counts.unchanged}
    return redirect(url_for(".upload", kind=kind, done=1))


@bp.record_once
def _check_upload_token_in_view(state) -> None:
    state.app.extensions["csrf"].exempt(upload)


def _page(importer, form, problems=(), result=None, filename=None):
    problems = list(problems)
    file_wide = [problem for problem in problems if problem.line is None]
    return render_template(
        "imports/upload.html", importer=importer, form=form, problems=problems,
        shown=problems[:PROBLEMS_SHOWN], hidden=max(len(problems) - PROBLEMS_SHOWN, 0),
        summary=problems[:SUMMARY_SHOWN], file_wide=file_wide, result=result,
        filename=filename, limits=_limits(),
    )
