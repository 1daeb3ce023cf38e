"""Tests of digest.render: templates, the sandbox, MJML, inlining, the reference compiler."""
