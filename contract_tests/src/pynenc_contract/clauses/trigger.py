"""placeholder"""

from pynenc_contract.clauses.clause import Clause

CLAUSES: tuple[Clause, ...] = ()
GUARANTEES: dict[str, str] = {}
