import TimeSeriesStore

WALCrashChild.main(arguments: CommandLine.arguments)
