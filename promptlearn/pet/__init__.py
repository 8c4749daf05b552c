"""Full PET (Schick & Schütze, EACL 2021): pattern ensembles, iPET generations, distillation on unlabelled data.

:func:`promptlearn.pet.pipeline.run_pipeline` runs the whole resumable pipeline of a
:class:`promptlearn.pet.config.PetConfig`; docs/pet.md describes it. (Nothing is imported here, so
reading the light modules, e.g. the config, does not load torch.)
"""
