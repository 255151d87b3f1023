"""
Odradek's command-line tools, each a console script with the flags of the Kafka
tool it mirrors, so that an operator's habits carry over: C{odradek-topics},
C{odradek-console-producer}, C{odradek-console-consumer},
C{odradek-consumer-groups}, C{odradek-configs}, C{odradek-acls},
C{odradek-producer-perf-test}, C{odradek-consumer-perf-test} and
C{odradek-dump-log}. Each module has a C{main(argv)} returning the exit status and
a C{run()} that the console script calls.
"""

__all__: list[str] = []
