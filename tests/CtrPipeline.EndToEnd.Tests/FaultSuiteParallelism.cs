// The fault suite's test classes (one per engine) mostly wait on worker processes, so they run side by side; the
// default limit (one test per core) would run the engines of a 2-core machine two at a time.
[assembly: CollectionBehavior(MaxParallelThreads = 4)]
