import Forwarder
import Testing

@Test func ForwarderModuleLinks() {
    #expect("\(Forwarder.self)" == "Forwarder")
}
