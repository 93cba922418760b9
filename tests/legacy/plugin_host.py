"""A plugin host as old code bases wrote them against ``imp`` (Python 2.x to
3.11), kept unmodified: it generates plugin modules from a template into a
directory, loads them with ``imp.load_source`` or ``imp.find_module`` +
``imp.load_module``, and regenerates and reloads a plugin when its settings
change (``imp.load_source`` again, or ``imp.reload``).

Usage: python plugin_host.py PLUGIN_DIRECTORY
"""

# ruff: noqa: UP004, UP031  (written as such code was, for Python 2 and 3)

import imp
import os
import sys

TEMPLATES = {
    "greet": 'def run():\n    return "hello, v%(version)d"\n',
    "shout": 'def run():\n    return "HELLO v%(version)d"\n',
}


class PluginHost(object):
    def __init__(self, directory):
        self.directory = directory
        self.plugins = {}
        if not os.path.isdir(directory):
            os.makedirs(directory)
        if directory not in sys.path:
            sys.path.insert(0, directory)

    def generate(self, name, version):
        path = os.path.join(self.directory, name + ".py")
        with open(path, "w") as f:
            f.write(TEMPLATES[name] % {"version": version})
        return path

    def load(self, name):
        path = os.path.join(self.directory, name + ".py")
        self.plugins[name] = imp.load_source("plugin_" + name, path)
        return self.plugins[name]

    def find_and_load(self, name):
        f, pathname, description = imp.find_module(name, [self.directory])
        try:
            self.plugins[name] = imp.load_module(name, f, pathname, description)
        finally:
            if f:
                f.close()
        return self.plugins[name]

    def reload(self, name):
        self.plugins[name] = imp.reload(self.plugins[name])
        return self.plugins[name]

    def run(self, name):
        print("%s: %s" % (name, self.plugins[name].run()))


def main(argv):
    host = PluginHost(argv[1])
    print("imp: %s" % imp.__name__)
    for version in (1, 2, 3):  # settings change: regenerate, load again
        host.generate("greet", version)
        host.load("greet")
        host.run("greet")
    host.generate("shout", 1)
    host.find_and_load("shout")
    host.run("shout")
    host.generate("shout", 2)
    host.reload("shout")
    host.run("shout")
    print("plugins: %s" % " ".join(sorted(host.plugins)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
