"""A HiGHS instance with its console output off.

HiGHS prints its banner ("Running HiGHS …") on standard output when the first instance of a process is
created, before any option can be set; the CLI's stdout carries JSON, so that first construction writes to
standard error instead.
"""

import os
import sys

import highspy

_banner_shown = False


def new_highs() -> highspy.Highs:
    global _banner_shown
    if not _banner_shown:
        _banner_shown = True
        sys.stdout.flush()
        try:
            saved = os.dup(1)
        except OSError:  # pragma: no cover - no file descriptor 1
            saved = None
        if saved is not None:
            try:
                os.dup2(2, 1)
                h = highspy.Highs()
            finally:
                os.dup2(saved, 1)
                os.close(saved)
        else:  # pragma: no cover
            h = highspy.Highs()
    else:
        h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("random_seed", 0)
    h.setOptionValue("threads", 1)
    return h
