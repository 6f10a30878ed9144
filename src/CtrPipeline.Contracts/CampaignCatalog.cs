using System.Globalization;

namespace CtrPipeline.Contracts;

/// <summary>One ad of the static catalog: which campaign it belongs to, plus descriptive columns.</summary>
public sealed record CatalogAd(int AdId, int CampaignId, string CampaignName, string Advertiser);

/// <summary>
/// The static campaign catalog (ad_id -> campaign_id) that every engine joins with. It lives in one CSV
/// file; the default one (100 campaigns x 10 ads, as in the Yahoo Streaming Benchmark) ships next to
/// the binaries as campaigns.csv.
/// </summary>
public sealed class CampaignCatalog
{
    public const string DefaultFileName = "campaigns.csv";
    private const string Header = "ad_id,campaign_id,campaign_name,advertiser";

    private readonly Dictionary<int, CatalogAd> _byAd;

    public CampaignCatalog(IEnumerable<CatalogAd> ads)
    {
        Ads = [.. ads];
        _byAd = new Dictionary<int, CatalogAd>(Ads.Count);
        foreach (var ad in Ads)
            if (!_byAd.TryAdd(ad.AdId, ad))
                throw new ConfigurationException($"The campaign catalog lists ad_id {ad.AdId} twice.");
        if (Ads.Count == 0) throw new ConfigurationException("The campaign catalog is empty.");
    }

    public IReadOnlyList<CatalogAd> Ads { get; }

    public int CampaignCount => Ads.Select(a => a.CampaignId).Distinct().Count();

    public static string DefaultPath => Path.Combine(AppContext.BaseDirectory, DefaultFileName);

    /// <summary>The stream-static join: the campaign of an ad, or false for an ad the catalog does not know.</summary>
    public bool TryGetCampaign(int adId, out int campaignId)
    {
        if (_byAd.TryGetValue(adId, out var ad))
        {
            campaignId = ad.CampaignId;
            return true;
        }
        campaignId = 0;
        return false;
    }

    /// <summary>A catalog of <paramref name="campaigns"/> x <paramref name="adsPerCampaign"/> ads; ad ids are 1..n.</summary>
    public static CampaignCatalog Generate(int campaigns, int adsPerCampaign)
    {
        ConfigurationException.Require(campaigns >= 1, $"The number of campaigns must be at least 1 (got {campaigns}).");
        ConfigurationException.Require(adsPerCampaign >= 1, $"The number of ads per campaign must be at least 1 (got {adsPerCampaign}).");
        return new CampaignCatalog(
            from c in Enumerable.Range(1, campaigns)
            from a in Enumerable.Range(0, adsPerCampaign)
            select new CatalogAd((c - 1) * adsPerCampaign + a + 1, c, $"campaign-{c:D4}", $"advertiser-{(c - 1) % 17 + 1:D2}"));
    }

    /// <summary>Loads the catalog from <paramref name="path"/>, or the default file when the path is empty.</summary>
    public static CampaignCatalog Load(string? path)
    {
        path = string.IsNullOrWhiteSpace(path) ? DefaultPath : path;
        if (!File.Exists(path))
            throw new ConfigurationException($"Campaign catalog '{path}' does not exist. Set Pipeline:CatalogPath to a CSV file with the header '{Header}'.");

        var lines = File.ReadAllLines(path);
        if (lines.Length == 0 || lines[0].Trim() != Header)
            throw new ConfigurationException($"Campaign catalog '{path}' must start with the header '{Header}'.");

        var ads = new List<CatalogAd>(lines.Length);
        for (var i = 1; i < lines.Length; i++)
        {
            if (string.IsNullOrWhiteSpace(lines[i])) continue;
            var f = lines[i].Split(',');
            if (f.Length != 4
                || !int.TryParse(f[0], NumberStyles.Integer, CultureInfo.InvariantCulture, out var adId)
                || !int.TryParse(f[1], NumberStyles.Integer, CultureInfo.InvariantCulture, out var campaignId))
                throw new ConfigurationException($"Campaign catalog '{path}', line {i + 1}: expected 'ad_id,campaign_id,campaign_name,advertiser' with integer ids, got '{lines[i]}'.");
            ads.Add(new CatalogAd(adId, campaignId, f[2], f[3]));
        }
        return new CampaignCatalog(ads);
    }

    public void Save(string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        File.WriteAllLines(path, [Header, .. Ads.Select(a => string.Create(CultureInfo.InvariantCulture, $"{a.AdId},{a.CampaignId},{a.CampaignName},{a.Advertiser}"))]);
    }
}
