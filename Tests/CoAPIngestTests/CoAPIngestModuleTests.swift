import CoAPIngest
import Testing

@Test func CoAPIngestModuleLinks() {
    #expect("\(CoAPIngest.self)" == "CoAPIngest")
}
