"""One module per doctor check; :func:`natsops.doctor.registry.all_checks` finds them all."""
