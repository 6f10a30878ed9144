namespace CtrPipeline.Contracts;

/// <summary>
/// One CTR row for a (window, campaign), as published to the results topic (JSON, key = campaign_id).
/// All instants are epoch milliseconds.
/// </summary>
/// <param name="MaxEventKafkaTs">Kafka record timestamp of the newest event that contributed to the row (L1 starts here).</param>
/// <param name="ComputedAt">When the engine computed the row (L1 ends, L2 starts here).</param>
/// <param name="Final">True when the window is closed by the watermark and the row will not change again.</param>
public sealed record CtrResult(
    string Engine,
    long WindowStart,
    long WindowEnd,
    int CampaignId,
    long Views,
    long Clicks,
    double Ctr,
    long MaxEventKafkaTs,
    long ComputedAt,
    bool Final)
{
    public static double Rate(long views, long clicks) => views == 0 ? 0 : (double)clicks / views;
}
