"""doteval's internals. The public API is re-exported by ``doteval`` and its public
modules; nothing here is imported by users directly.

The package, from the lowest layer to the highest (a module imports only its own
layer and those below; ``tests/test_layout.py`` checks it, and that no imports
form a circle):

- ``errors``, ``text``, ``validators``, ``public``, ``exception_groups``, ``protocols``,
  ``version``: the exception tree, message helpers, the attrs validators every option
  uses, the lazy exports of the public modules, whether an object provides a protocol
  (the same on every Python), the version the build reads.
- ``scoring/``: what an evaluation returns (``Score``, ``Result``), evaluators
  (``@evaluator`` and the built-ins) and metrics (``Metric``, the registry).
- ``results/``: the outcome of an item (``Record``) and of a run
  (``EvaluationResult``), and the ``Aggregator`` that folds records into metrics.
- ``retry/``: which errors are transient, and the retry policy (stamina).
- ``storage/``: the backend protocol, the policy every backend runs under
  (``Store``: names, leases, statuses, messages), the registry that loads
  backends by URL scheme, record serialisation, reading back, export, who holds
  a lock (``holders``), and ``backends/`` (sqlite, jsonl, memory).
- ``concurrency/``: strategies (attrs classes that move jobs to records through
  memory object streams), the worker pool, pacing, the adaptive window, and the
  ``Ticker`` base of the tasks that tick beside a run (watchdog, signal waker, marks).
- ``persist/``: the run hook that stores records from a thread of its own,
  resuming (the merge-join of dataset and store), run metadata.
- ``run/``: one run: the plan, reading the dataset and binding rows, the item
  runner and the daemon threads its plain ``def`` calls run in, the batch runner
  (``@batch``: one call per batch, one record per item), the producer, the
  consumer, the watchdog, and ``engine.execute``.
- ``progress/``: the live display, a hook that draws from a thread.
- ``api/``: ``foreach``/``Evaluation`` (turning options into a run plan), ``batch``,
  the options and their layers, the blocking ``doteval.run``.
- ``pytest/`` (the plugin, its options, report and terminal) and ``cli`` (the
  ``doteval`` command) sit on top.

One run, ``await eval_math(model=m)``: ``api.foreach.Evaluation.__call__``
merges the options and builds a ``run.plan.RunPlan`` (strategy, retry policy,
item runner, store target, display); ``run.engine.execute`` enters the hooks
(``persist.hook.PersistHook`` opens the store on its thread and takes the lease;
the progress display starts drawing), then one task group runs
``run.producer.produce`` (rows in, stored successes skipped), the strategy's
worker pool (each job through ``run.item.ItemRunner``: bind, call with retries
and timeout, check the return) and, in the calling task, ``run.consumer.consume``
(every record to the aggregator and the hooks). Leaving the hooks flushes the
store and marks the evaluation's status; ``execute`` returns the
``EvaluationResult``.

Classes here that users never hold are ``repr=False``: attrs compiles a generated
``__repr__`` for every class at import, the costliest part of building one, and the
engine's classes would pay it on every start-up for nobody. What users do hold
(records, results, strategies, datasets) keeps its repr.
"""
