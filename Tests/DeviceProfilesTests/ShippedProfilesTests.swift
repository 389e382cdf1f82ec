import DeviceProfiles
import Foundation
import Testing

/// Locates the repository's device-profiles/ folder from this source file.
enum Repository {
    static let root: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()
    static var profilesDirectory: String { root + "/device-profiles" }
}

/// Every shipped profile loads, and every inline vector passes: `swift test` runs them all.
@Suite struct ShippedProfilesTests {
    static let files = ProfileLoader.profileFiles(in: Repository.profilesDirectory)

    @Test func thereAreProfilesForAllThreeFamilies() throws {
        let set = try ProfileSet.load(directory: Repository.profilesDirectory)
        let families = Dictionary(grouping: set.profiles.values, by: \.family).mapValues(\.count)
        #expect(set.profiles.count >= 12, "at least 12 device models ship")
        #expect(families["neuron", default: 0] >= 3)
        #expect(families["charger", default: 0] >= 2)
        #expect(families["farm", default: 0] >= 3)
    }

    @Test(arguments: files)
    func inlineVectorsPass(file: String) throws {
        let profiles = try ProfileLoader.load(file: file)
        for profile in profiles {
            #expect(!profile.tests.isEmpty, "\(profile.id) carries test vectors")
            for outcome in ProfileTestRunner.run(profile) {
                #expect(outcome.passed, "\(profile.id) / \(outcome.name) (line \(outcome.line)): \(outcome.failures.joined(separator: "; "))")
            }
        }
    }
}
