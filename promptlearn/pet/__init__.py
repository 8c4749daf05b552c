"""Full PET (Schick & Schütze, EACL 2021): pattern ensembles, iPET generations, distillation on unlabelled data.

:func:`run_pipeline` runs the whole resumable pipeline of a :class:`PetConfig`; docs/pet.md describes it.
"""

from promptlearn.pet.config import PetConfig
from promptlearn.pet.pipeline import run_pipeline

__all__ = ["PetConfig", "run_pipeline"]
