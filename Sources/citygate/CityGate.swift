import ArgumentParser

@main
struct CityGate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "citygate", abstract: "Smart-city IoT ingestion gateway.")
}
