"""The course tools: the ``labkit`` command, PDF reports, Colab set-up."""
