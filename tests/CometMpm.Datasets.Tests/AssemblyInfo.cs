// The memory measurement of the 1,000,000-row test is process-wide: run the classes one after another.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
