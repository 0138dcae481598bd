"""Import of the community ledger (台账导入): the population spreadsheet community staff keep.

Flow. ``upload_ledger`` reads the header (a missing required column, an unreadable or unsupported
file is a clear 400 and nothing is saved), stores the file encrypted under the district's media
prefix and starts the dry run (phase ``check``): every row is checked and stored with its problems,
in Chinese and English words, and the rejected rows are written to a workbook with the original
columns and a 原因 / reason column. Nothing is written to the registry. ``confirm_import`` starts
the import (phase ``import``) of the rows the dry run found valid, in chunks of ``CHUNK`` rows, each
in one transaction that re-checks its rows against the registry as it is then. Small files run in
the request, big ones in Celery (``tasks.run_import_job``) with progress on the job.

Rules.
- Places: streets, communities, grids, compounds and buildings must exist (the district
  administrator creates them on purpose: they carry the grid, the property company…); a row naming
  an unknown one is rejected, so a typo never creates a phantom compound. A household (unit + room)
  that does not exist yet in a known building is created: flats without a household record are the
  normal case of a first import. 街道 / 社区 / 网格, when given, must agree with the compound and
  building.
- People are recognised by their ID number (the blind index): a person already registered at the
  same household is "unchanged" (importing the same file twice changes nothing); at another household,
  or under another name, the row is rejected; a registered person without a household is bound.
  Rows already registered are not updated: corrections go through the registry's own pages.
- Within the file: the same person twice at the same household keeps the first row (later rows are
  rejected as repeats); the same person at two households rejects all those rows; a second head
  (户主) for one household is rejected.
- The ID number is required: without it a person cannot be recognised on a re-import.
- Community staff may import only into buildings of grids inside their scope.

Resumable: each chunk marks its rows ``imported`` in the transaction that writes them, so a task
redelivered after a killed worker (acks_late) continues with the rows still ``valid``; the unique
blind index makes a second copy of a person impossible anyway. The runner's advisory lock keeps two
deliveries of the same job from running at once, and a transaction advisory lock serialises the
chunks of concurrent imports in one district.
"""
from modules.registry.ledger.columns import COLUMNS
from modules.registry.ledger.export import rejected_workbook, row_preview
from modules.registry.ledger.importing import LEDGER_JOBS, dead_jobs, run_job
from modules.registry.ledger.problems import PROBLEM_LABELS, PROBLEMS
from modules.registry.ledger.selectors import jobs_for, rows_of, same_file_jobs
from modules.registry.ledger.services import IMPORTERS, MAX_UPLOAD_BYTES, confirm_import, upload_ledger
from modules.registry.ledger.sheets import open_sheet, seal, unseal

__all__ = ["COLUMNS", "IMPORTERS", "LEDGER_JOBS", "MAX_UPLOAD_BYTES", "PROBLEMS", "PROBLEM_LABELS", "confirm_import",
           "dead_jobs", "jobs_for", "open_sheet", "rejected_workbook", "row_preview", "rows_of", "same_file_jobs",
           "run_job", "seal", "unseal", "upload_ledger"]
