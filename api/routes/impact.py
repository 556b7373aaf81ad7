"""(being written)"""

from __future__ import annotations

from api.policy import router as _router

router = _router(tags=["impact"])
