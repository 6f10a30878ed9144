// The engine's meters are process-wide and named by engine id: runs in parallel test classes would count each other's
// records (EngineMeterCapture). The classes run one after another.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
