import PushIngest
import Testing

@Test func PushIngestModuleLinks() {
    #expect("\(PushIngest.self)" == "PushIngest")
}
