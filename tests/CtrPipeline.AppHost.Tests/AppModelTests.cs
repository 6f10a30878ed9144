using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Testing;
using static CtrPipeline.AppHost.Tests.AppModel;

namespace CtrPipeline.AppHost.Tests;

/// <summary>The embedded-mode app model, built from Program.cs exactly as `dotnet run` builds it, without starting anything.</summary>
public sealed class AppModelTests
{
    private static Task<IDistributedApplicationTestingBuilder> Model(params string[] args) => AppModel.BuildAsync(["--Parameters:mode=embedded", .. args]);

    [Fact]
    public async Task Default_model_has_broker_connection_both_native_engines_the_sql_engine_analyzer_and_producer()
    {
        await using var builder = await Model();
        var names = builder.Resources.Select(r => r.Name).ToHashSet();
        string[] expected = ["embedded-kafka", "kafka", "native-continuous", "native-microbatch", "sql", "analyzer", "producer"];
        Assert.Superset(expected.ToHashSet(), names);
        Assert.IsType<ConnectionStringResource>(Resource(builder, "kafka"));
        Assert.Empty(builder.Resources.OfType<ContainerResource>()); // embedded mode: no PostgreSQL, nothing else in a container
    }

    [Fact]
    public async Task Broker_gets_its_allocated_bootstrap_port_a_health_check_and_the_reset_command()
    {
        await using var builder = await Model();
        var broker = Resource(builder, "embedded-kafka");
        var endpoint = broker.Annotations.OfType<EndpointAnnotation>().Single(e => e.Name == "kafka");
        Assert.Equal("tcp", endpoint.UriScheme);
        Assert.False(endpoint.IsProxied);
        Assert.Equal(9092, endpoint.Port); // where kcat and other local tools expect Kafka
        Assert.Equal("{embedded-kafka.bindings.kafka.targetPort}", (await Environment(broker))["EmbeddedKafka__Port"]);
        Assert.Contains(broker.Annotations.OfType<HealthCheckAnnotation>(), h => h.Key.Contains("embedded-kafka"));
        var reset = Assert.Single(broker.Annotations.OfType<ResourceCommandAnnotation>(), c => c.Name == PipelineTopology.ResetTopicsCommand);
        Assert.Equal("Reset topics", reset.DisplayName);

        // The dashboard says what the broker is and where to read which clients work with it.
        var snapshot = Assert.Single(broker.Annotations.OfType<ResourceSnapshotAnnotation>()).InitialSnapshot;
        var description = (string)Assert.Single(snapshot.Properties, p => p.Name == PipelineTopology.DescriptionProperty).Value!;
        Assert.Contains("not Apache Kafka", description);
        Assert.Contains("--ConnectionStrings:kafka=", description);
        Assert.Contains("docs/embedded-broker.md", description);
        Assert.True(File.Exists(Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..", "..", "docs", "embedded-broker.md")));

        var connection = (ConnectionStringResource)Resource(builder, "kafka");
        var manifest = connection.ConnectionStringExpression.ValueExpression;
        Assert.Equal("{embedded-kafka.bindings.kafka.host}:{embedded-kafka.bindings.kafka.port}", manifest);
    }

    [Fact]
    public async Task Every_worker_gets_the_kafka_connection_and_the_same_pipeline_settings_and_waits_for_the_broker()
    {
        await using var builder = await Model("--Parameters:window=5s", "--Parameters:watermark=750ms", "--Parameters:trigger=2s");
        string[] workers = ["native-continuous", "native-microbatch", "sql", "analyzer", "producer"];
        var catalog = Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..", "..", "data", "campaigns.csv"));
        foreach (var name in workers)
        {
            var worker = Resource(builder, name);
            var env = await Environment(worker);
            Assert.Equal("{kafka.connectionString}", env["ConnectionStrings__kafka"]);
            Assert.Equal("00:00:05", env["Pipeline__WindowSize"]);
            Assert.Equal("00:00:00.7500000", env["Pipeline__WatermarkDelay"]);
            Assert.Equal("00:00:02", env["Pipeline__TriggerInterval"]); // the benchmark's --trigger reaches --host services
            Assert.Equal(catalog, env["Pipeline__CatalogPath"]);
            Assert.True(File.Exists(env["Pipeline__CatalogPath"]), $"{name}: the catalog it is given does not exist");
            Assert.Contains("embedded-kafka", WaitsFor(worker));
        }
    }

    [Fact]
    public async Task Engines_are_one_resource_each_and_the_producer_starts_after_them_and_the_analyzer()
    {
        await using var builder = await Model("--Parameters:rate=1234.5", "--Parameters:profile=poisson", "--Parameters:traces=0.5");
        Assert.Equal("native-continuous", (await Environment(Resource(builder, "native-continuous")))["Engine__Id"]);
        Assert.Equal("native-microbatch", (await Environment(Resource(builder, "native-microbatch")))["Engine__Id"]);
        var producer = Resource(builder, "producer");
        var env = await Environment(producer);
        Assert.Equal("poisson", env["Producer__Profile"]);
        Assert.Equal("1234.5", env["Producer__Rate"]);
        Assert.Equal("0.5", env["Producer__TracedEventsPerSecond"]);
        Assert.Equal("00:00:00.0500000", env["Producer__Linger"]); // fuller batches for the embedded broker (EmbeddedBroker.ProducerLinger)
        Assert.Superset(new HashSet<string> { "native-continuous", "native-microbatch", "sql", "analyzer" }, WaitsFor(producer).ToHashSet());
        // Each engine is healthy once its log says it is ready (EngineReadiness), and the producer waits for that.
        foreach (var engine in new[] { "native-continuous", "native-microbatch", "sql" })
            Assert.Contains(Resource(builder, engine).Annotations.OfType<HealthCheckAnnotation>(), h => h.Key == $"{engine}-ready");
        Assert.EndsWith(Path.Combine("runs", "apphost", "analyzer-summary.json"), (await Environment(Resource(builder, "analyzer")))["Analyzer__SummaryPath"]);
    }

    [Fact]
    public async Task With_an_external_load_the_model_has_the_engines_but_no_producer_or_analyzer_and_the_partitions_asked_for()
    {
        // The benchmark's services host (--host services) starts this model and sends and measures the load itself.
        await using var builder = await Model("--Parameters:load=external", "--Parameters:engine=native-continuous", "--Parameters:partitions=8");
        var names = builder.Resources.Select(r => r.Name).ToHashSet();
        Assert.Contains("native-continuous", names);
        Assert.DoesNotContain("producer", names);
        Assert.DoesNotContain("analyzer", names);
        Assert.Equal("8", (await Environment(Resource(builder, "native-continuous")))["Pipeline__Partitions"]);
        Assert.Equal("8", (await Environment(Resource(builder, "embedded-kafka")))["Pipeline__Partitions"]);
    }

    [Fact]
    public async Task A_topic_prefix_names_every_topic_of_every_service_and_the_engines_state_topic()
    {
        await using var builder = await Model("--Parameters:topic-prefix=ctr-run-1a2b");
        foreach (var name in new[] { "embedded-kafka", "native-continuous", "sql", "analyzer", "producer" })
        {
            var env = await Environment(Resource(builder, name));
            Assert.Equal("ctr-run-1a2b-events", env["Pipeline__Topics__Events"]);
            Assert.Equal("ctr-run-1a2b-ctr_results", env["Pipeline__Topics__Results"]);
            Assert.Equal("ctr-run-1a2b-events_dlq", env["Pipeline__Topics__DeadLetters"]);
            Assert.Equal("ctr-run-1a2b-events_late", env["Pipeline__Topics__Late"]);
        }
        Assert.Equal("ctr-run-1a2b-ctr_engine_state", (await Environment(Resource(builder, "native-continuous")))["Engine__StateTopic"]);
        // The run's own consumer groups too (and so transactional ids): runs on one cluster never share offsets.
        Assert.Equal("ctr-run-1a2b-ctr-native-continuous", (await Environment(Resource(builder, "native-continuous")))["Engine__GroupId"]);
        Assert.Equal("ctr-run-1a2b-ctr-sql", (await Environment(Resource(builder, "sql")))["Sql__GroupId"]);
        // And the SQL engine's database: a run never starts on another run's rows.
        Assert.Equal(Path.Combine(Repository, "runs", "apphost", "ctr-run-1a2b-sql.db"), (await Environment(Resource(builder, "sql")))["Sql__SqliteFile"]);
    }

    [Fact]
    public void A_runs_postgresql_schema_is_a_lower_case_identifier_that_keeps_the_prefixs_unique_end()
    {
        var appHost = Path.Combine(Repository, "src", "CtrPipeline.AppHost");
        Assert.Equal("ctr_ctr_run_1a2b", SqlEngineDatabase.ForRun(appHost, "ctr-run-1a2b").Schema);
        var (file, schema) = SqlEngineDatabase.ForRun(appHost, "ctr-" + new string('x', 120) + "-DEADBEEF");
        Assert.Matches("^[a-z_][a-z0-9_]{0,62}$", schema);
        Assert.EndsWith("_deadbeef", schema);
        Assert.Equal(Path.Combine(Repository, "runs", "apphost", "ctr-" + new string('x', 120) + "-DEADBEEF-sql.db"), file);
        Assert.Equal((Path.Combine(Repository, "runs", "apphost", "ctr-sql.db"), null), SqlEngineDatabase.ForRun(appHost, null));
    }

    [Fact]
    public async Task The_sql_engine_keeps_its_tables_in_an_sqlite_file_under_runs_apphost()
    {
        await using var builder = await Model();
        var sql = Resource(builder, "sql");
        Assert.IsType<ProjectResource>(sql);
        var env = await Environment(sql);
        Assert.Equal(Path.Combine(Repository, "runs", "apphost", "ctr-sql.db"), env["Sql__SqliteFile"]);
        Assert.DoesNotContain("ConnectionStrings__ctrdb", env.Keys); // no connection string: SQLite
        Assert.DoesNotContain("Sql__Schema", env.Keys);
        Assert.DoesNotContain("Engine__Id", env.Keys); // the native engines' setting; the SQL engine has one id
        Assert.DoesNotContain(builder.Resources, r => r.Name is "postgres" or "ctrdb");
    }

    [Fact]
    public async Task An_existing_postgresql_replaces_the_sqlite_file_with_a_schema_of_its_own_per_start()
    {
        await using var builder = await Model("--ConnectionStrings:ctrdb=Host=db.example;Username=ctr;Password=secret;Database=ctr");
        Assert.IsAssignableFrom<ParameterResource>(Resource(builder, "ctrdb")); // read from ConnectionStrings:ctrdb
        Assert.Empty(builder.Resources.OfType<ContainerResource>());
        var env = await Environment(Resource(builder, "sql"));
        Assert.Equal("{ctrdb.connectionString}", env["ConnectionStrings__ctrdb"]);
        Assert.DoesNotContain("Sql__SqliteFile", env.Keys);
        // The embedded broker starts empty, so the engine's tables must too: a new schema, ctr_<UTC start time>.
        Assert.Matches("^ctr_[0-9]{8}_[0-9]{6}$", env["Sql__Schema"]);
    }

    [Fact]
    public async Task With_an_existing_kafka_cluster_the_sql_engine_keeps_its_state_across_starts()
    {
        await using (var builder = await Model("--ConnectionStrings:kafka=broker-1:9092"))
            Assert.EndsWith(Path.Combine("runs", "apphost", "ctr-sql.db"), (await Environment(Resource(builder, "sql")))["Sql__SqliteFile"]);
        await using (var builder = await Model("--ConnectionStrings:kafka=broker-1:9092", "--ConnectionStrings:ctrdb=Host=db.example;Database=ctr"))
            Assert.DoesNotContain("Sql__Schema", (await Environment(Resource(builder, "sql"))).Keys); // the engine's default schema, ctr
    }

    [Fact]
    public async Task A_secured_cluster_reaches_every_service_as_its_properties_file_and_a_secret_password_parameter()
    {
        var file = Path.GetTempFileName();
        await File.WriteAllTextAsync(file, "security.protocol=SASL_SSL\nsasl.mechanisms=SCRAM-SHA-512\nsasl.username=bench\n");
        try
        {
            await using var builder = await Model("--ConnectionStrings:kafka=broker-1:9093", $"--Parameters:kafka-config={file}",
                "--Parameters:kafka-password=s3cr3t-Pa55word");

            // A secret parameter: the dashboard shows its value masked, and no environment holds it in plain text.
            var password = Assert.IsType<ParameterResource>(Resource(builder, PipelineParameters.KafkaPasswordParameter));
            Assert.True(password.Secret);
            foreach (var name in new[] { ApacheKafka.Setup, "native-continuous", "native-microbatch", "sql", "analyzer", "producer" })
            {
                var env = await Environment(Resource(builder, name));
                Assert.Equal(file, env["Kafka__ConfigFile"]);
                Assert.Equal("{kafka-password.value}", env["Kafka__Properties__sasl.password"]);
                Assert.DoesNotContain(env.Values, v => v.Contains("s3cr3t-Pa55word"));
            }
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public async Task Kafka_port_zero_lets_the_orchestrator_choose_a_free_port()
    {
        await using var builder = await Model("--Parameters:kafka-port=0");
        var endpoint = Resource(builder, "embedded-kafka").Annotations.OfType<EndpointAnnotation>().Single(e => e.Name == "kafka");
        Assert.Null(endpoint.Port);
    }

    [Fact]
    public async Task The_engine_parameter_selects_which_engines_run()
    {
        await using var builder = await Model("--Parameters:engine=native-microbatch");
        Assert.DoesNotContain(builder.Resources, r => r.Name is "native-continuous" or "sql");
        Assert.Contains(builder.Resources, r => r.Name == "native-microbatch");

        await using var sqlOnly = await Model("--Parameters:engine=sql");
        Assert.Equal(["sql"], sqlOnly.Resources.OfType<ProjectResource>().Select(p => p.Name).Where(n => n.StartsWith("native") || n == "sql"));
    }
}
