"""The command line: ``python -m vanishing <experiment> [--flags]``.

* :mod:`~vanishing.cli.main`: flags, ``--help``, errors, the entry point;
* :mod:`~vanishing.cli.launch`: one experiment from settings to files;
* :mod:`~vanishing.cli.outputs`: the files an experiment writes;
* :mod:`~vanishing.cli.report`: the report page of a results directory.
"""
