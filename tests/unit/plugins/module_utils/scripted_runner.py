"""The one scripted stand-in for the Runner in the module_utils tests: it answers each command line
from a table (exact command -> (rc, stdout, stderr), or a function of the argv returning that),
records the commands as Runner does, and only plans mutating commands in check mode."""

from ansible_collections.cageforge.nexcage.plugins.module_utils._runner import CommandFailed, CommandResult


class ScriptedRunner:
    def __init__(self, answers, check_mode=False, default=None):
        self.answers = answers
        self.check_mode = check_mode
        self.default = default  # the answer to a command not in the table; None: the test fails
        self.history = []

    @property
    def commands(self):
        return [r.cmd for r in self.history]

    def run(self, argv, mutating=False, timeout=None, data=None, check=True):
        argv = [str(a) for a in argv]
        if mutating and self.check_mode:
            res = CommandResult(argv, 0, "", "", 0.0, planned=True)
            self.history.append(res)
            return res
        answer = self.answers.get(" ".join(argv), self.default)
        if callable(answer):
            answer = answer(argv)
        if answer is None:
            raise AssertionError("unexpected command: %s" % " ".join(argv))
        rc, out, err = answer
        res = CommandResult(argv, rc, out, err, 0.0)
        self.history.append(res)
        if check and rc != 0:
            raise CommandFailed(res)
        return res
