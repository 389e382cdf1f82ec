/// Every series the store knows, in flat arrays indexed by the dense `SeriesID`, and the lookup from (device,
/// metric) to id.
///
/// Memory is the point (docs/performance.md, store): a `[SeriesKey: SeriesID]` dictionary plus a `[SeriesInfo]`
/// array of three strings cost about 150 bytes a series at 100k series (two hash tables sized to a power of two, and
/// `Array` doubling). Here a series costs its device string (16 bytes, plus its characters when longer than 15 UTF-8
/// bytes), two 4-byte indices into an interned pool of metric and unit names, and one 8-byte slot of an
/// open-addressing table (load ≤ ¾) that holds a 32-bit hash tag and the id, so a lookup compares strings only when
/// the tags match. Names are stored in pages of `pageSize` entries, so growth never copies or doubles them.
struct SeriesTable {
    static let pageSize = 4_096

    /// Device of each id; "" for an id the table has not seen defined (ids can arrive out of order at recovery).
    private var devices = PagedArray<String>()
    /// Index into `names` of each id's metric and unit.
    private var metricIndex = PagedArray<UInt32>()
    private var unitIndex = PagedArray<UInt32>()
    /// Interned metric and unit names (a gateway has tens of them, not one per series).
    private var names: [String] = []
    private var nameIndex: [String: UInt32] = [:]
    /// Open addressing with linear probing: 0 is empty, else `tag << 32 | (id + 1)`.
    private var slots = [UInt64](repeating: 0, count: 64)
    private var used = 0

    /// Ids with a definition.
    private(set) var definedCount = 0
    /// One past the largest id seen (defined or placeholder).
    var idCount: Int { devices.count }

    /// The id of a device and metric, if known.
    func lookup(device: String, metric: String) -> SeriesID? {
        let hash = Self.hash(device, metric)
        let tag = hash >> 32
        let mask = slots.count - 1
        var i = Int(truncatingIfNeeded: hash) & mask
        while true {
            let slot = slots[i]
            if slot == 0 { return nil }
            if slot >> 32 == tag {
                let id = Int(slot & 0xFFFF_FFFF) - 1
                if devices[id] == device && names[Int(metricIndex[id])] == metric { return SeriesID(id) }
            }
            i = (i + 1) & mask
        }
    }

    /// Defines `id` (replacing a placeholder, or an earlier definition of the same id).
    mutating func define(_ id: SeriesID, device: String, metric: String, unit: String) {
        let index = Int(id)
        while devices.count <= index {
            devices.append("")
            metricIndex.append(0)
            unitIndex.append(0)
        }
        if devices[index].isEmpty && !device.isEmpty { definedCount += 1 }
        devices[index] = device
        metricIndex[index] = intern(metric)
        unitIndex[index] = intern(unit)
        if (used + 1) * 4 > slots.count * 3 { grow() }
        insertSlot(Self.hash(device, metric), id: index)
        used += 1
    }

    /// The names of `id`, or nil for an id never defined.
    func info(_ id: SeriesID) -> TimeSeriesStore.SeriesInfo? {
        let index = Int(id)
        guard index < devices.count, !devices[index].isEmpty else { return nil }
        return TimeSeriesStore.SeriesInfo(id: id, device: devices[index], metric: names[Int(metricIndex[index])], unit: names[Int(unitIndex[index])])
    }

    /// Whether `id` has a definition.
    func isDefined(_ id: SeriesID) -> Bool {
        Int(id) < devices.count && !devices[Int(id)].isEmpty
    }

    /// Every defined series, ascending by id, optionally of one device.
    func all(device: String? = nil) -> [TimeSeriesStore.SeriesInfo] {
        (0..<devices.count).compactMap { index in
            guard !devices[index].isEmpty, device == nil || devices[index] == device else { return nil }
            return info(SeriesID(index))
        }
    }

    private mutating func intern(_ name: String) -> UInt32 {
        if let index = nameIndex[name] { return index }
        let index = UInt32(names.count)
        names.append(name)
        nameIndex[name] = index
        return index
    }

    private mutating func insertSlot(_ hash: UInt64, id: Int) {
        let mask = slots.count - 1
        var i = Int(truncatingIfNeeded: hash) & mask
        while slots[i] != 0 { i = (i + 1) & mask }
        slots[i] = (hash >> 32) << 32 | UInt64(id + 1)
    }

    private mutating func grow() {
        slots = [UInt64](repeating: 0, count: slots.count * 2)
        used = 0
        for index in 0..<devices.count where !devices[index].isEmpty {
            insertSlot(Self.hash(devices[index], names[Int(metricIndex[index])]), id: index)
            used += 1
        }
    }

    private static func hash(_ device: String, _ metric: String) -> UInt64 {
        var hasher = Hasher()
        hasher.combine(device)
        hasher.combine(metric)
        return UInt64(bitPattern: Int64(hasher.finalize()))
    }
}

/// An append-only array stored in pages of `SeriesTable.pageSize` elements, each allocated at its full size once:
/// growing never copies elements and never reserves more than one page ahead (an `Array` doubles, leaving up to
/// half of its capacity unused).
struct PagedArray<Element> {
    private var pages: [[Element]] = []
    private(set) var count = 0

    mutating func append(_ element: Element) {
        if count % SeriesTable.pageSize == 0 {
            var page: [Element] = []
            page.reserveCapacity(SeriesTable.pageSize)
            pages.append(page)
        }
        pages[pages.count - 1].append(element)
        count += 1
    }

    subscript(index: Int) -> Element {
        get { pages[index / SeriesTable.pageSize][index % SeriesTable.pageSize] }
        set { pages[index / SeriesTable.pageSize][index % SeriesTable.pageSize] = newValue }
    }
}
