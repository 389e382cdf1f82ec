import Foundation
import Gateway
import GatewayTesting
import Testing

@Suite struct ConfigRepositoryTests {
    @Test func versionsAreNumberedFromOneWithTheirShaAuthorTimeAndComment() throws {
        let repo = try ConfigRepository(path: ":memory:")
        let v1 = try repo.add(.profile, "acme-level", path: "acme/level.yaml", text: "abc", author: "ana", comment: "first", nowMs: 1_000)
        let v2 = try repo.add(.profile, "acme-level", path: "acme/level.yaml", text: "id: x\n", author: "bo", comment: "", nowMs: 2_000)
        #expect(v1.version == 1)
        #expect(v2.version == 2)
        // The FIPS 180-2 example: SHA-256("abc").
        #expect(v1.sha256 == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(v2.sha256 != v1.sha256)
        let stored = try #require(try repo.version(.profile, "acme-level", 1))
        #expect(stored.text == "abc")
        #expect(stored.author == "ana")
        #expect(stored.comment == "first")
        #expect(stored.createdMs == 1_000)
        #expect(stored.active == false, "an upload is not active until activated")
        #expect(try repo.version(.profile, "acme-level", 3) == nil)
        // Another kind with the same name is a different item.
        #expect(try repo.add(.rules, "acme-level", path: "acme-level", text: "rules: []", author: "ana").version == 1)
    }

    @Test func historyIsNewestFirstAndOneVersionIsActive() throws {
        let repo = try ConfigRepository(path: ":memory:")
        for i in 1...4 { try repo.add(.rules, "city.yaml", path: "city.yaml", text: "# \(i)\nrules: []\n", author: "admin") }
        try repo.setActive(.rules, "city.yaml", version: 3)
        let history = try repo.versions(.rules, "city.yaml")
        #expect(history.map(\.version) == [4, 3, 2, 1])
        #expect(history.filter(\.active).map(\.version) == [3])
        #expect(history.allSatisfy { $0.text == nil }, "listings carry no texts")
        #expect(try repo.active(.rules, "city.yaml")?.text == "# 3\nrules: []\n")
        #expect(try repo.item(.rules, "city.yaml")?.versions == 4)
        #expect(throws: ConfigRepository.RepositoryError.self) { try repo.setActive(.rules, "city.yaml", version: 9) }
        #expect(try repo.active(.rules, "city.yaml")?.version == 3, "a refused activation changes nothing")
    }

    @Test func rollbackTargetIsTheVersionBeforeTheActiveOne() throws {
        let repo = try ConfigRepository(path: ":memory:")
        #expect(try repo.previous(.profile, "p") == nil)
        for i in 1...3 { try repo.add(.profile, "p", path: "v/p.yaml", text: "\(i)", author: "a") }
        #expect(try repo.previous(.profile, "p") == nil, "nothing active yet")
        try repo.setActive(.profile, "p", version: 3)
        #expect(try repo.previous(.profile, "p") == 2)
        try repo.setActive(.profile, "p", version: 2)
        #expect(try repo.previous(.profile, "p") == 1)
        try repo.setActive(.profile, "p", version: 1)
        #expect(try repo.previous(.profile, "p") == nil, "the first version has none before it")
    }

    @Test func diskTextIsImportedOnceAndChangesBecomeNewVersionsByDisk() throws {
        let repo = try ConfigRepository(path: ":memory:")
        let first = try #require(try repo.recordDisk(.profile, "p", path: "v/p.yaml", text: "one"))
        #expect(first.version == 1)
        #expect(first.author == ConfigRepository.diskAuthor)
        #expect(first.active)
        #expect(try repo.recordDisk(.profile, "p", path: "v/p.yaml", text: "one") == nil, "unchanged: nothing recorded")
        // An upload (not active) does not count as what is on disk.
        try repo.add(.profile, "p", path: "v/p.yaml", text: "two", author: "ana")
        let changed = try #require(try repo.recordDisk(.profile, "p", path: "v/p2.yaml", text: "three"))
        #expect(changed.version == 3)
        #expect(try repo.active(.profile, "p")?.text == "three")
        #expect(try repo.item(.profile, "p")?.path == "v/p2.yaml", "a moved file updates the path")
        try repo.deactivate(.profile, "p")
        #expect(try repo.active(.profile, "p") == nil)
        #expect(try repo.recordDisk(.profile, "p", path: "v/p2.yaml", text: "three")?.version == 4, "back on disk after removal: recorded again")
    }

    @Test func historySurvivesReopeningTheDatabase() throws {
        let dir = try TemporaryDirectory()
        let path = dir.file("api.db")
        do {
            let repo = try ConfigRepository(path: path)
            try repo.recordDisk(.rules, "a.yaml", path: "a.yaml", text: "rules: []\n")
            try repo.add(.rules, "a.yaml", path: "a.yaml", text: "rules: [ ]\n", author: "ana", comment: "spacing")
        }
        let repo = try ConfigRepository(path: path)
        #expect(try repo.items(.rules).map(\.name) == ["a.yaml"])
        #expect(try repo.versions(.rules, "a.yaml").map(\.author) == ["ana", "disk"])
        #expect(try repo.active(.rules, "a.yaml")?.version == 1)
        #expect(try repo.items(.profile).isEmpty)
    }
}
