import Anomaly
import Testing

@Test func AnomalyModuleLinks() {
    #expect("\(Anomaly.self)" == "Anomaly")
}
