"""PPT (Gu et al., ACL 2022): pretraining a soft prompt on unlabelled text, to start the ``ppt`` mode from."""
