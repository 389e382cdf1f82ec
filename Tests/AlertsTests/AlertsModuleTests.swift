import Alerts
import Testing

@Test func AlertsModuleLinks() {
    #expect("\(Alerts.self)" == "Alerts")
}
